"""The sweep's result: one row per cell, the per-variant table, the ranking and the PBO, built from the cells.

:func:`screen_result` builds them from the cells, every time (a finished sweep
run again too), and writes them to the sweep's folder (Parquet and CSV, the
scalars in ``result.json``, written last); the sweep never reads tables back.
:meth:`ScreenResult.load` reads a finished sweep's folder back for a person
looking at it (a notebook: :meth:`ScreenResult._repr_html_`). The ranking
corrects for the number of variants tried (:mod:`cvn_sklearn.ranking`).
"""

from __future__ import annotations

import dataclasses
import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvn_sklearn.sweep.config import ScreenConfig
from cvn_sklearn.sweep.plan import Plan
from cvn_sklearn.trading import pool

__all__ = ["ScreenResult", "packed_record", "screen_result", "write_summary"]


@dataclass(frozen=True)
class ScreenResult:
    """What :func:`cvn_sklearn.sweep.run.screen` returns (also written to the sweep's folder).

    Every trading figure is net of the symbols' costs per trade, with the
    gross one beside it (``*_gross``); every Sharpe and Sortino ratio is
    annualised (``*_ann``): a cell's with its symbol's bars per year, the
    ranking's with ``periods_per_year`` of the pooled calendar.

    Attributes
    ----------
    cells : DataFrame
        One row per cell: variant, model, symbol, fold, cost, status,
        error_type, error, cached, seconds, threshold, no_edge, the test
        metrics, the trading figures of its test block (trades, win rate,
        ``sharpe_ann``, ``sortino_ann``, drawdown, net and gross, ``n_bars``,
        ``periods_per_year``), and the rows of each stage.
    by_variant : DataFrame
        Per variant and fold (and ``fold == "all"``), over symbols: average
        trades, average, min and max annualised Sortino, average win rate,
        cells without an edge, failed cells.
    ranking : DataFrame
        Per variant, best first, on the pooled series: trades, win rate,
        annualised Sharpe and Sortino (net and gross), maximum drawdown, the
        probabilistic and the deflated Sharpe ratio (N = the number of
        variants) and ``T``, the periods they were computed on; cells without
        an edge, failed cells.
    pbo : float
        Probability of backtest overfitting of the sweep (CSCV over the
        variants' pooled net returns); NaN when it cannot be computed (fewer
        than 2 ranked variants, too few periods, or variants that tie
        everywhere), and ``pbo_note`` says why.
    returns, returns_gross : DataFrame
        Per symbol and bar (index ``(symbol, time)``) of the test windows, each
        variant's strategy return, net and gross of costs
        (:func:`cvn_sklearn.trading.positions`; NaN in a failed cell's window).
    pooled, pooled_gross : DataFrame
        Each variant's returns on the one calendar of the ranking and the PBO
        (:func:`cvn_sklearn.trading.pool`); a variant with a failed cell is
        NaN (not ranked).
    periods_per_year : float
        Periods per year of the pooled calendar.
    calendar : str
        ``"bars"`` (every symbol has the same bars per year) or ``"days"``.
    folder : Path
        The sweep's folder (``cells``, ``by_variant``, ``ranking`` as Parquet
        and CSV, the return tables as Parquet, the scalars above in
        ``result.json``, the cell store); :meth:`load` reads it back.
    parent_run_id : str or None
        The sweep's MLflow parent run, when logged.
    pbo_note : str or None
        Why ``pbo`` is NaN (``PBOResult.note`` of :mod:`cvn_sklearn.ranking`, or
        too few ranked variants or periods); None when it is a number.
    buy_and_hold : DataFrame or None
        Per symbol and bar (the index of ``returns``), column
        ``buy_and_hold``: the return of holding the symbol over its test
        windows, before costs (its close-to-close returns when the symbol has
        close prices, entered at the close of the first bar of each stretch of
        consecutive bars; else the
        gross return of buying every row under the sweep's position rule).

    Examples
    --------
    A finished sweep read back from its folder, equal to what
    :func:`~cvn_sklearn.sweep.run.screen` returned; in a notebook it shows
    itself as a summary (:meth:`_repr_html_`):

    >>> import tempfile
    >>> import numpy as np
    >>> from cvn_sklearn.sweep import ScreenResult, SymbolData, screen
    >>> def symbol(seed):
    ...     r = np.random.RandomState(seed); X = r.normal(size=(300, 2))
    ...     y = (X[:, 0] + r.normal(size=300) > 0.5).astype(int)
    ...     return SymbolData(X, y, np.where(y == 1, 0.01, -0.01) + r.normal(0, 0.005, 300))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = screen({"variants": [{"name": "logreg", "model": "logreg"},
    ...                                   {"name": "weak", "model": "logreg", "params": {"C": 0.001}}],
    ...                      "symbols": ["a"], "folds": {"n_splits": 2}, "folder": folder, "mlflow": False,
    ...                      "cost": 0.0005}, data={"a": symbol(1)})
    ...     back = ScreenResult.load(folder)
    >>> back.ranking.equals(result.ranking), back.pbo == result.pbo or np.isnan(back.pbo)
    (True, True)
    """

    cells: pd.DataFrame
    by_variant: pd.DataFrame
    ranking: pd.DataFrame
    pbo: float
    returns: pd.DataFrame
    returns_gross: pd.DataFrame
    pooled: pd.DataFrame
    pooled_gross: pd.DataFrame
    periods_per_year: float
    calendar: str
    folder: Path
    parent_run_id: str | None = None
    pbo_note: str | None = None
    buy_and_hold: pd.DataFrame | None = None

    @classmethod
    def load(cls, folder) -> ScreenResult:
        """Read a finished sweep's results back from its folder.

        Reads the tables the sweep wrote (Parquet) and ``result.json`` (the
        PBO, the calendar, the MLflow parent run): nothing else, and nothing
        that could run code (no pickle). The sweep is not run; to rebuild the
        tables from the cell store, run it again with the same config (no
        cell is recomputed).

        Parameters
        ----------
        folder : str or Path
            The sweep's ``folder`` (``~`` expanded).

        Returns
        -------
        ScreenResult
            Equal, table by table, to what :func:`~cvn_sklearn.sweep.run.screen`
            returned for it.

        Raises
        ------
        FileNotFoundError
            If ``folder`` does not exist or holds none of a sweep's results.
        ValueError
            If the folder's results are incomplete (a sweep stopped before it
            wrote them all, or a file was removed) or do not belong together
            (``result.json`` and the tables disagree), naming the files.

        Examples
        --------
        >>> ScreenResult.load("/no/such/sweep")
        Traceback (most recent call last):
        ...
        FileNotFoundError: '/no/such/sweep' does not exist; give the folder a sweep wrote its results to (the config's ``folder``)
        """
        return _load(Path(folder).expanduser())

    def _repr_html_(self) -> str:
        """A compact HTML summary for notebooks: units, the ranking's top rows, the PBO, the failures.

        Every text shown is escaped once; numbers are formatted, never
        Python reprs. The full tables are the attributes (``ranking``,
        ``cells``...); the sweep's ``report.html`` has the charts.
        """
        return _summary_html(self)


_FRAMES = ("returns", "returns_gross", "pooled", "pooled_gross", "buy_and_hold")
_TABLES = ("cells", "by_variant", "ranking", *_FRAMES)
_SUMMARY = "result.json"
_SUMMARY_VERSION = 1


def screen_result(config: ScreenConfig, plan: Plan, computed: dict | None = None) -> ScreenResult:
    """Build the sweep's tables from every cell of ``plan``; write and return them.

    The cached cells are the ones :func:`~cvn_sklearn.sweep.plan.plan_cells`
    read and verified (``plan.stored``); the cells just computed are
    ``computed`` (key to ``(record, rows)``, as their tasks returned them
    after writing them to the store, the record as a dict or as
    ``(field names, values)`` (:func:`packed_record`); each is taken out of
    ``computed`` as it is read, so the driver holds one copy of it), or else
    read from the store. The tables
    are always built from the cells, never read back from the folder (a file
    there may be stale or altered).

    Raises
    ------
    RuntimeError
        If a cell just computed is missing from the store, or is rejected
        there (naming the store's folder).
    """
    folder = Path(config.folder)
    records, flags, arrays = [], [], {}
    for cell in plan.cells:
        found = plan.stored.get(cell.key)
        cached = found is not None
        if found is None and computed is not None:
            found = computed.pop(cell.key, None)
        if found is None:
            found = plan.store.get(cell.key)
        if found is None:
            raise RuntimeError(f"The cell {cell!r} was computed but is missing from the cell store {plan.store.folder} or "
                               "was rejected there (see the store_file_rejected event); run the sweep again.")
        record, arrays[cell.key] = found
        records.append(packed_record(record) if isinstance(record, dict) else record)
        flags.append(cached)
    cells = _records_frame(records, flags)
    del records  # the frame holds the cells now
    names = [v.name for v in config.variants]
    failed = set(cells.loc[cells["status"] != "ok", "key"])
    held = {symbol: _symbol_positions(config, plan, symbol, arrays, failed) for symbol in config.symbols}
    frames = {kind: pd.concat({symbol: held[symbol][kind] for symbol in config.symbols}, names=["symbol", "time"])
              for kind in ("net", "gross", "buy_and_hold")}
    per_year = {symbol: plan.data[symbol].periods_per_year for symbol in config.symbols}
    with_failures = set(cells.loc[cells["status"] != "ok", "variant"])
    complete = [name for name in names if name not in with_failures]
    pooled = {}
    for kind in ("net", "gross"):
        pooled[kind], pooled_per_year, calendar = pool({s: held[s][kind] for s in config.symbols}, per_year)
        pooled[kind] = pooled[kind].reindex(columns=names)
        pooled[kind].loc[:, [n for n in names if n not in complete]] = np.nan
    trades = sum(held[symbol]["trades"] for symbol in config.symbols)
    wins = sum(held[symbol]["wins"] for symbol in config.symbols)
    by_variant = _by_variant(cells)
    ranking, pbo, pbo_note = _ranking(cells, pooled, complete, trades, wins, pooled_per_year, config)
    result = ScreenResult(cells, by_variant, ranking, pbo, frames["net"], frames["gross"], pooled["net"],
                          pooled["gross"], float(pooled_per_year), calendar, folder, pbo_note=pbo_note,
                          buy_and_hold=frames["buy_and_hold"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _SUMMARY).unlink(missing_ok=True)  # written last: without it, the tables are not a finished set
    for name, table in (("cells", cells), ("by_variant", by_variant), ("ranking", ranking)):
        _write_parquet(table, folder / f"{name}.parquet")
        _write_csv(table, folder / f"{name}.csv", index=name == "ranking")
    for name in _FRAMES:
        _write_returns(getattr(result, name), folder / f"{name}.parquet")
    write_summary(result)
    return result


def packed_record(record: dict, layouts: dict | None = None) -> tuple[tuple, tuple]:
    """``record`` as ``(field names, values)``: what the driver keeps of each cell until the tables are built.

    A dict of some 50 fields takes about 2.3 KB; its values as a tuple, with
    the tuple of field names shared by every record of the same layout (the
    ``layouts`` dict, names to themselves), take a fifth of that: about 20 MB
    fewer at 10,000 cells.
    """
    names = tuple(record)
    if layouts is not None:
        names = layouts.setdefault(names, names)
    return names, tuple(record.values())


def _records_frame(records: list, cached: list) -> pd.DataFrame:
    """``pd.DataFrame`` of the records (``(field names, values)``) with a ``cached`` column, built column by column.

    The same frame as ``pd.DataFrame([{**dict(zip(names, values)), "cached": c} ...])``
    (tested): the columns in the order they first appear, a field a record
    lacks NaN, ``cached`` after the first record's fields. It never holds
    every record as a dict at once. The records of one layout (every cell
    that succeeded has the same fields) are turned into columns together.
    """
    rows_of = {}  # each layout's rows, the layouts in the order of their first row
    for row, (names, _) in enumerate(records):
        rows_of.setdefault(names, []).append(row)
    columns: dict[str, list] = {}
    for names, rows in rows_of.items():
        values = zip(*(records[row][1] for row in rows))
        if len(rows) == len(records):  # one layout: each field is a column as it is
            columns = {name: list(column) for name, column in zip(names, values)}
            break
        for name, column in zip(names, values):
            if name not in columns:
                columns[name] = [np.nan] * len(records)
            filled = columns[name]
            for row, value in zip(rows, column):
                filled[row] = value
    first = len(records[0][0]) if records else 0
    ordered = list(columns.items())
    return pd.DataFrame(dict([*ordered[:first], ("cached", list(cached)), *ordered[first:]]))


_ROWS_AT_A_TIME = 256
"""Rows of a table converted to Arrow at a time (a cell's curves are arrays, costly to convert at once)."""


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    """``table.to_parquet(path)``, its array columns converted to Arrow :data:`_ROWS_AT_A_TIME` rows at a time.

    Converting the curve arrays of 10,000 cells at once takes about 100 MB
    for a moment; in pieces, about 15 MB (1,024 rows at a time took 14 MB
    more than 256, and no less time). The schema is the whole table's, so
    every piece is typed alike; the scalar columns are converted once, whole,
    and sliced (converting every column of every piece through pandas was
    most of the time). A table with its own index (not the default
    ``0..n-1``) or short enough is written by pandas in one piece.
    ``pd.read_parquet`` reads either back as the same frame (tested).
    """
    default_index = isinstance(table.index, pd.RangeIndex) and table.index.start == 0 and table.index.step == 1
    if len(table) <= _ROWS_AT_A_TIME or not default_index:
        table.to_parquet(path)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(table, preserve_index=False)
    nested = {field.name for field in schema if pa.types.is_nested(field.type)}
    flat = pa.Table.from_pandas(table.drop(columns=list(nested)), preserve_index=False,
                                schema=pa.schema([field for field in schema if field.name not in nested]))
    columns = [table[field.name].to_numpy() if field.name in nested else flat.column(field.name) for field in schema]
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, len(table), _ROWS_AT_A_TIME):
            piece = [pa.array(column[start:start + _ROWS_AT_A_TIME], type=field.type, from_pandas=True)
                     if field.name in nested else column.slice(start, _ROWS_AT_A_TIME)
                     for field, column in zip(schema, columns)]
            writer.write_table(pa.Table.from_arrays(piece, schema=schema))


def _write_returns(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_parquet(path)`` for a frame of returns: one float column per variant, its index the bars.

    The same file, its schema and pandas metadata included (tested), built
    from the frame's values instead of column by column through pandas: a
    pandas column costs about 0.3 ms to convert, and a 10,000-cell sweep's
    return tables hold 4,000 of them. Any other frame is written by pandas.
    """
    names = list(frame.columns)
    levels = {str(name) for name in frame.index.names}  # a variant named like an index level: pandas renames the level
    if (len(names) < 2 or isinstance(frame.columns, pd.MultiIndex) or not all(isinstance(n, str) for n in names)
            or len(set(names)) != len(names) or levels & set(names) or any(n.startswith("__") for n in names)
            or not (frame.dtypes == np.float64).all()):
        frame.to_parquet(path)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = pa.Table.from_pandas(frame.iloc[:, :1])  # the index columns and the pandas metadata of one column
    metadata = json.loads(first.schema.metadata[b"pandas"])
    column = metadata["columns"][0]
    metadata["columns"] = [{**column, "name": n, "field_name": n} for n in names] + metadata["columns"][1:]
    values = frame.to_numpy()
    index = range(1, first.num_columns)
    schema = pa.schema([pa.field(n, pa.float64()) for n in names] + [first.schema.field(i) for i in index],
                       metadata={**first.schema.metadata, b"pandas": json.dumps(metadata).encode()})
    arrays = [pa.array(values[:, j], from_pandas=True) for j in range(len(names))] + [first.column(i) for i in index]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)


def _write_csv(table: pd.DataFrame, path: Path, *, index: bool) -> None:
    """Write ``table`` as CSV without its array columns (a cell's reliability bins and θ curves).

    A CSV is read in a spreadsheet, where a cell's curves (about 360 numbers)
    are of no use, and writing them as text was half of the tables' build
    time at 10,000 cells; they are in the Parquet file and ``result.cells``.
    """
    objects = [c for c, dtype in table.dtypes.items() if dtype == object]
    arrays = [c for c in objects if any(isinstance(value, np.ndarray) for value in table[c].array)]
    table.drop(columns=arrays).to_csv(path, index=index)


def _scalar_fields() -> list[str]:
    """The fields of :class:`ScreenResult` held in ``result.json``: every one but the tables and the folder."""
    return [f.name for f in dataclasses.fields(ScreenResult) if f.name not in (*_TABLES, "folder")]


def write_summary(result: ScreenResult) -> None:
    """Write ``result.json`` in the sweep's folder: the scalars of ``result`` and each table's number of rows.

    :func:`screen_result` writes it after the tables, and the sweep again once
    its MLflow parent run is known; :meth:`ScreenResult.load` reads it. A
    number that is not finite (a PBO that cannot be computed) is ``null``.
    """
    from cvn_sklearn._disk import atomic_file, plain

    def value(name):
        found = plain(getattr(result, name))
        return None if isinstance(found, float) and not np.isfinite(found) else found

    summary = {"format": _SUMMARY_VERSION, **{name: value(name) for name in _scalar_fields()},
               "rows": {name: len(getattr(result, name)) for name in _TABLES}}
    with atomic_file(Path(result.folder) / _SUMMARY) as file:
        file.write(json.dumps(summary, indent=2).encode())


def _load(folder: Path) -> ScreenResult:
    if not folder.is_dir():
        raise FileNotFoundError(f"{str(folder)!r} does not exist; give the folder a sweep wrote its results to (the "
                                "config's ``folder``)")
    files = [_SUMMARY, *[f"{name}.parquet" for name in _TABLES]]
    missing = [name for name in files if not (folder / name).is_file()]
    if len(missing) == len(files):
        raise FileNotFoundError(f"{str(folder)!r} is not a sweep's folder: it holds none of a sweep's results "
                                f"({', '.join(files)}); give the config's ``folder`` of a sweep that finished")
    if missing:
        raise ValueError(f"The sweep's results in {str(folder)!r} are incomplete: {', '.join(missing)} missing (the "
                         "sweep stopped before writing them all, or a file was removed); run the sweep again with "
                         "the same config: it recomputes no finished cell and writes every table")
    summary = _read_summary(folder / _SUMMARY)
    tables = {name: _read_table(folder / f"{name}.parquet") for name in _TABLES}
    wrong = [f"{name}.parquet has {len(table)} rows, {_SUMMARY} says {summary['rows'][name]}"
             for name, table in tables.items() if len(table) != summary["rows"][name]]
    if wrong:
        raise ValueError(f"The sweep's results in {str(folder)!r} do not belong together ({'; '.join(wrong)}): "
                         "written by different runs, or altered; run the sweep again to rewrite them")
    scalars = {name: summary[name] for name in _scalar_fields()}
    scalars["pbo"] = float("nan") if scalars["pbo"] is None else float(scalars["pbo"])
    scalars["periods_per_year"] = float(scalars["periods_per_year"])
    return ScreenResult(**tables, **scalars, folder=folder)


def _read_summary(path: Path) -> dict:
    """``result.json``, checked: the format this version writes, each scalar of the type its field holds."""
    problem = None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        summary, problem = None, f"it is not JSON ({exc})"
    kinds = {"pbo": (int, float, type(None)), "periods_per_year": (int, float), "calendar": str,
             "parent_run_id": (str, type(None)), "pbo_note": (str, type(None))}
    if problem is None and not isinstance(summary, dict):
        problem = "it is not a JSON object"
    elif problem is None and summary.get("format") != _SUMMARY_VERSION:
        problem = f"its format is {summary.get('format')!r}, this version of cvn_sklearn reads {_SUMMARY_VERSION}"
    elif problem is None:
        names = [*_scalar_fields(), "rows"]
        absent = [name for name in names if name not in summary]
        if absent:
            problem = f"it lacks {', '.join(absent)}"
        elif not (isinstance(summary["rows"], dict) and all(isinstance(summary["rows"].get(n), int) for n in _TABLES)):
            problem = f"its 'rows' is not a number of rows per table ({', '.join(_TABLES)})"
        else:
            bad = [name for name in _scalar_fields() if not isinstance(summary[name], kinds.get(name, object))
                   or isinstance(summary[name], bool)]
            if bad:
                problem = f"{', '.join(bad)} of the wrong type"
    if problem is not None:
        raise ValueError(f"{str(path)!r} is not a sweep's {_SUMMARY}: {problem}; run the sweep again to rewrite it")
    return summary


def _read_table(path: Path) -> pd.DataFrame:
    """One Parquet table as the sweep built it: a list-valued cell (reliability bins, θ curve) a list again, a missing one NaN."""
    import pyarrow

    try:
        table = pd.read_parquet(path)
    except (pyarrow.ArrowException, OSError) as exc:
        raise ValueError(f"{str(path)!r} is not a Parquet table ({exc}); run the sweep again to rewrite it") from None
    for column in table.columns[table.dtypes == object]:
        if table[column].notna().any():  # a failed cell's bins, θ curve, no_edge: NaN, as built (an all-None column stays)
            table[column] = table[column].map(lambda value: value.tolist() if isinstance(value, np.ndarray)
                                              else np.nan if value is None else value)
    return table


def _summary_html(result: ScreenResult, top: int = 5) -> str:
    """:meth:`ScreenResult._repr_html_`: what a person wants first, each text escaped once."""
    from cvn_sklearn.sweep.report import units

    cells = result.cells
    n_failed = int((cells["status"] != "ok").sum())
    columns = [c for c in ("trades", "win_rate", "sharpe_ann", "sortino_ann", "psr", "dsr", "failed_cells")
               if c in result.ranking]
    shown = result.ranking.head(top)
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in ["variant", *columns])
    rows = "".join(
        "<tr>" + f"<td>{html.escape(str(variant))}</td>"
        + "".join(f"<td>{_html_number(row[c])}</td>" for c in columns) + "</tr>"
        for variant, row in shown.iterrows())
    more = len(result.ranking) - len(shown)
    if np.isfinite(result.pbo):
        pbo = (f"<b>PBO = {result.pbo:.3f}</b> (probability of backtest overfitting): near 0.5 the ranking is "
               "noise, near 0 the best variant stays best.")
    else:
        why = result.pbo_note or "it needs at least 2 variants without a failed cell and enough periods"
        pbo = f"<b>PBO: n/a</b> (probability of backtest overfitting): {html.escape(why)}."
    failures = (f"{n_failed} of {len(cells)} cells failed (see <code>cells</code>: "
                "<code>error_type</code>, <code>error</code>)." if n_failed else f"No failed cell of {len(cells)}.")
    return (
        f"<div><p><b>ScreenResult</b>: {cells['variant'].nunique()} variants &times; {cells['symbol'].nunique()} "
        f"symbols &times; {cells['fold'].nunique()} folds, "
        f"in <code>{html.escape(str(result.folder))}</code></p>"
        f"<p>{html.escape(units(result))}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        + (f"<p>&hellip; and {more} more (<code>ranking</code>).</p>" if more > 0 else "")
        + f"<p>{pbo}</p><p>{failures}</p></div>"
    )


def _html_number(value) -> str:
    """A table number as text: integers as such, others to 3 decimals, empty when missing."""
    if value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3f}"
    return html.escape(str(value))


def _symbol_positions(config: ScreenConfig, plan: Plan, symbol: str, arrays: dict, failed: set) -> dict:
    """One symbol's per-bar net and gross returns of every variant over its folds' test windows, trades and wins.

    Each variant's folds are one strategy run through time (a position open
    at the end of a fold's test block blocks entries in the next under
    ``one_at_a_time``); the bars kept are each fold's window, from its first
    test row to its last row's exit, whatever the signal, so every variant has
    the same bars. A failed cell's window is NaN. And the symbol's
    buy-and-hold return on those bars (see :class:`ScreenResult`).
    """
    from cvn_sklearn._rows import take_rows
    from cvn_sklearn.trading import BarBook, bet_size, positions

    data = plan.data[symbol]
    rules = config.trading_rules()
    times = data.times()
    symbol_cells = [cell for cell in plan.cells if cell.symbol == symbol]
    folds = {cell.fold.index: cell.fold for cell in symbol_cells}
    rows = np.concatenate([fold.test for fold in folds.values()])
    ends = times[rows] if data.t1 is None else pd.Index(take_rows(data.t1, rows))
    windows = [(times[fold.test[0]], ends[np.isin(rows, fold.test)].max()) for fold in folds.values()]
    # every variant holds its signal on the same rows: they are placed on the bar calendar once
    book = BarBook.of(len(rows), times=times[rows], t1=None if data.t1 is None else ends, close=data.close)
    calendar = book.window
    inside = {index: np.asarray((calendar >= first) & (calendar <= last)) for (first, last), index in zip(windows, folds)}
    keep = np.logical_or.reduce(list(inside.values()))
    out = {"net": {}, "gross": {}, "trades": {}, "wins": {}}
    variant_cells = {}  # each variant's cells by fold, grouped once (not one pass over the symbol's cells per variant)
    for cell in symbol_cells:
        variant_cells.setdefault(cell.variant.name, {})[cell.fold.index] = cell
    for variant in config.variants:
        mine = variant_cells[variant.name]
        parts = [arrays[mine[index].key] for index in folds]
        signal = np.concatenate([part["signal"] for part in parts])
        proba = np.concatenate([part["proba"] for part in parts])
        size = None
        if rules["sizing"] == "probability":
            size = np.where(signal == 1, bet_size(np.nan_to_num(proba, nan=0.0), break_even=rules["break_even"]), 0.0)
        cost = mine[next(iter(folds))].cost
        held = book.hold(signal, np.concatenate([part["returns"] for part in parts]), cost=cost, rule=rules["rule"],
                         size=size)
        net, gross = held.net, held.gross
        for index in folds:
            if mine[index].key in failed:
                net[inside[index]] = gross[inside[index]] = np.nan
        out["net"][variant.name], out["gross"][variant.name] = net[keep], gross[keep]
        out["trades"][variant.name] = len(held.rows)
        out["wins"][variant.name] = int(np.sum(held.returns - cost > 0))  # net trade returns that win
    for kind in ("net", "gross"):
        out[kind] = pd.DataFrame(out[kind], index=calendar[keep])
        out[kind].columns.name = "variant"
    out["trades"], out["wins"] = pd.Series(out["trades"]), pd.Series(out["wins"])
    held = out["net"].index
    if data.close is not None:
        close = pd.Series(np.asarray(data.close, dtype=np.float64), index=pd.Index(data.close.index))
        hold = close.pct_change().reindex(held).fillna(0.0)
        stretch = np.r_[True, np.diff(close.index.get_indexer(held)) != 1]
        hold[stretch] = 0.0  # held from the close of the first bar of each stretch of consecutive bars
    else:
        always = positions(np.ones(len(rows), dtype=np.int8), np.asarray(take_rows(data.returns, rows), dtype=np.float64),
                           times=times[rows], t1=None if data.t1 is None else ends, cost=0.0, rule=rules["rule"])
        hold = always.bars["gross"].reindex(held).fillna(0.0)
    out["buy_and_hold"] = pd.DataFrame({"buy_and_hold": hold.to_numpy()}, index=held)
    return out


def annualised_names(figures: dict) -> dict:
    """Trading figures with Sharpe and Sortino named as what they are: annualised (``sharpe_ann``, ``sortino_ann_gross``)."""
    return {_ANNUALISED.get(name, name): value for name, value in figures.items()}


_ANNUALISED = {"sharpe": "sharpe_ann", "sortino": "sortino_ann", "sharpe_gross": "sharpe_ann_gross",
               "sortino_gross": "sortino_ann_gross"}


def _by_variant(cells: pd.DataFrame) -> pd.DataFrame:
    """The original runner's table: per variant and fold (and overall), trades, Sortino, win rate, no edge, failures."""
    frame = cells.assign(failed=cells["status"] != "ok")
    figures = ["n_trades", "sortino_ann", "win_rate"]
    for column in [*figures, "no_edge"]:
        if column not in frame:
            frame[column] = np.nan if column != "no_edge" else False
    frame["no_edge"] = frame["no_edge"].fillna(False).astype(bool)
    frame.loc[frame["failed"], figures] = np.nan  # failed cells: counted, not averaged

    def table(keys):  # each statistic on its own column: twice as fast as .agg of a list, same table
        groups = frame.groupby(keys, sort=True)
        sortino = groups["sortino_ann"]
        return pd.DataFrame({
            "avg_trades": groups["n_trades"].mean(), "avg_sortino_ann": sortino.mean(),
            "min_sortino_ann": sortino.min(), "max_sortino_ann": sortino.max(),
            "avg_win_rate": groups["win_rate"].mean(), "no_edge_cells": groups["no_edge"].sum().astype(int),
            "failed_cells": groups["failed"].sum().astype(int),
        }).reset_index()

    per_fold = table(["variant", "fold"]).astype({"fold": str})
    overall = table(["variant"]).assign(fold="all")
    return pd.concat([per_fold, overall], ignore_index=True)[["variant", "fold", *per_fold.columns[2:]]]


def _ranking(cells, pooled, complete, trades, wins, periods_per_year, config) -> tuple[pd.DataFrame, float, str | None]:
    """Per variant, on the pooled series: trades, win rate, annualised Sharpe/Sortino net and gross, PSR, DSR, T; the PBO and why it is NaN.

    ``N`` of the DSR is every variant of the config: those with a failed cell
    (not ranked) and those that never traded (no Sharpe ratio) count as
    trials. ``dsr_note`` says why a variant's DSR is NaN (a failed cell, no
    trade, or a Sharpe variance of the trials that cannot be estimated: fewer
    than 2 variants with a Sharpe ratio) or, when some variants have none,
    from how many of the ``N`` trials the variance was estimated
    (:func:`cvn_sklearn.ranking.rank_variants`); missing when there is
    nothing to say.
    """
    from cvn_sklearn.ranking import rank_variants

    names = list(pooled["net"].columns)
    n_trials = len(config.variants)
    failed = cells.assign(failed=cells["status"] != "ok").groupby("variant")["failed"].sum()
    no_edge = cells.get("no_edge", pd.Series(False, index=cells.index)).fillna(False).astype(bool)
    no_edge = cells.assign(no_edge=no_edge).groupby("variant")["no_edge"].sum()
    table, pbo = pd.DataFrame(index=pd.Index([], name="variant")), float("nan")
    pbo_note = "PBO not computed: no variant is ranked (each has a failed cell)"
    notes = pd.Series(dtype=object)
    if complete:
        values = pooled["net"][complete].dropna(how="all")
        n_periods = len(values)
        partitions = min(16, n_periods // 2 - (n_periods // 2) % 2) if len(complete) > 1 else None
        ranked = rank_variants(values, periods_per_year=periods_per_year, n_trials=n_trials,
                               n_partitions=partitions if partitions and partitions >= 2 else None)
        gross = rank_variants(pooled["gross"][complete].dropna(how="all"), periods_per_year=periods_per_year,
                              n_trials=n_trials, n_partitions=None).table
        table = ranked.table.rename(columns={"sharpe": "sharpe_ann", "sortino": "sortino_ann", "n_periods": "T"})
        notes = table["dsr_note"]
        table["sharpe_ann_gross"] = gross["sharpe"].reindex(table.index)
        table["sortino_ann_gross"] = gross["sortino"].reindex(table.index)
        table = table[["sharpe_ann", "sharpe_ann_gross", "sortino_ann", "sortino_ann_gross", "max_drawdown", "psr",
                       "dsr", "T"]]
        pbo = float("nan") if ranked.pbo is None else ranked.pbo.pbo
        pbo_note = ranked.pbo.note if ranked.pbo is not None else (
            f"PBO not computed: only {len(complete)} variant is ranked (every cell ok); it compares 2 or more"
            if len(complete) < 2 else
            f"PBO not computed: {n_periods} pooled periods are too few to cut into 2 blocks of 2 or more")
    table = table.reindex([*table.index, *[n for n in names if n not in table.index]])
    table.index.name = "variant"
    table.insert(0, "trades", trades.reindex(table.index).fillna(0).astype(int))
    table.insert(1, "win_rate", (wins / trades.replace(0, np.nan)).reindex(table.index))
    if "T" in table:
        table["T"] = table["T"].astype("Int64")
    table["no_edge_cells"] = no_edge.reindex(table.index).fillna(0).astype(int)
    table["failed_cells"] = failed.reindex(table.index).fillna(0).astype(int)
    table["dsr_note"] = pd.Series([
        notes.get(name) if name in complete
        else f"not ranked: {table.loc[name, 'failed_cells']} failed cell(s) (a trial: counted in N = {n_trials})"
        for name in table.index
    ], index=table.index, dtype="str")
    return table, pbo, pbo_note
