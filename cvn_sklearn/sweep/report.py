"""The screening sweep's report: one self-contained HTML file to look at.

:func:`write_report` turns a :class:`~cvn_sklearn.sweep.tables.ScreenResult` into
one HTML file with its images and styles inline (no network, no scripts): the
failed cells with their errors, the ranking with the deflated Sharpe ratio and
the PBO explained in a sentence each, per symbol the cumulative return in % of
every variant on the test windows' dates (net of costs, gross dashed, the
symbol's buy-and-hold beside them) with the drawdown below, the per-fold
table, trades per fold per variant (an over-trading variant stands out), per
variant the reliability diagram and θ curve of the test blocks (out of sample)
beside the validation ones the calibrator and θ were fitted on, the config as
YAML and the library versions. A failed cell's window is a gap in the curves.
Above ``SUMMARY_ABOVE`` (20) variants the report summarises: it shows the
ranking's best ``SHOWN_VARIANTS`` (10) and the spread of every variant's
figures, so its build time does not grow with the sweep
(``report_build_seconds``, ``benchmarks/report.py``).
The config is scrubbed as a structure and every text cell of the tables as
text (:mod:`cvn_sklearn.scrubbing`), then escaped once. Every chart carries
its titles, axis labels, legend entries and x tick labels in its PNG's
``cvn_sklearn`` text chunk (what the tests read). Needs matplotlib (the
``plots`` extra).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_report"]

SUMMARY_ABOVE = 20
"""Above this many variants the report summarises: it shows and draws the best :data:`SHOWN_VARIANTS` of the ranking."""
SHOWN_VARIANTS = 10
"""How many variants a summarised report shows and draws (the ranking's best); the rest are aggregated."""
SYMBOL_CHARTS = 8
"""Up to this many symbols the report draws an equity chart per symbol; above, one of the pooled series."""
FAILED_CELLS_SHOWN = 50
"""At most this many failed cells are listed one by one (every failing variant is summarised; all are in cells.csv)."""

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{padding:.25rem .6rem;text-align:right;
border-bottom:1px solid #eaeef2}th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
p.note{color:#57606a;font-size:.9rem}img{max-width:100%}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
pre{background:#f6f8fa;padding:.8rem;font-size:.8rem;overflow-x:auto}
.failures td{text-align:left;color:#82071e}
"""


def write_report(result, config, path) -> Path:
    """Write the sweep's self-contained HTML report to ``path``.

    Parameters
    ----------
    result : ScreenResult
    config : ScreenConfig
    path : str or Path

    Returns
    -------
    Path
        ``path``.
    """
    from cvn_sklearn.sweep.plan import library_versions

    path = Path(path)
    failed = result.cells[result.cells["status"] != "ok"]
    shown = shown_variants(result)
    summarised = len(shown) < len(result.ranking)
    ranking = result.ranking.loc[shown] if summarised else result.ranking
    by_variant = result.by_variant[result.by_variant["variant"].isin(shown)] if summarised else result.by_variant
    sections = [
        f"<h1>Screening sweep: {len(config.variants)} variants x {len(config.symbols)} symbols x "
        f"{result.cells['fold'].nunique()} folds</h1>",
        f"<p>{len(result.cells)} cells, {len(failed)} failed, "
        f"{int(result.cells['cached'].sum())} read back from the cell store.</p>",
        *_failures_section(failed),
        "<h2>Ranking</h2>",
        f'<p class="note">{html.escape(units(result))}</p>',
        *([f'<p class="note">{len(result.ranking)} variants: the {len(shown)} best of the ranking are shown and '
           "drawn below; every variant is in ranking.csv, and the distribution of all of them under "
           '<a href="#all-variants">All variants</a>.</p>'] if summarised else []),
        _table(ranking.reset_index(), floats=4),
        '<p class="note"><b>DSR</b> (deflated Sharpe ratio): the probability that the variant\'s true Sharpe '
        "ratio beats what the best of the variants tried would reach by luck alone; above 0.95 is strong evidence. "
        "<b>PSR</b> is the same against a Sharpe ratio of 0, without the correction for the number of variants.</p>",
        f'<p class="note"><b>PBO = {_number(result.pbo)}</b>{_pbo_note(result)} (probability of backtest '
        "overfitting): how often the variant best on one half of the periods is below the median on the other half; "
        "near 0.5 means the ranking is noise, near 0 that the best variant stays best.</p>",
        *(_all_variants_section(result, shown) if summarised else []),
        "<h2>Equity curves</h2>",
        f'<p class="note">{_equity_note(result)}</p>',
        *[_image(figure) for figure in _equity_figures(result, shown)],
        "<h2>Per fold</h2>",
        _table(by_variant, floats=3),
        "<h2>Trades per fold</h2>",
        _image(_trades_figure(result, shown)),
        "<h2>Calibration and θ</h2>",
        '<p class="note">Per variant, pooled over its cells: the reliability diagram of the test blocks (out of '
        "sample, solid) beside that of the validation rows the calibrator was fitted on (dashed); the θ curve of "
        "its last cell on its test block (solid) and on the validation rows θ was picked on (dashed).</p>",
        '<div class="grid">',
        *[_image(figure) for figure in _calibration_figures(result, config, shown)],
        "</div>",
        "<h2>Config</h2>",
        f"<pre>{html.escape(config_yaml(config))}</pre>",
        "<h2>Library versions</h2>",
        _table(pd.DataFrame(sorted(library_versions().items()), columns=["library", "version"])),
    ]
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>cvn_sklearn screening report</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path


def report_build_seconds(result, config, path) -> float:
    """:func:`write_report` with the same arguments; the wall-clock seconds it took (what the benchmarks print)."""
    from time import perf_counter

    start = perf_counter()
    write_report(result, config, path)
    return perf_counter() - start


def failure_rows(cells: pd.DataFrame) -> pd.DataFrame:
    """The failed cells: variant, symbol, fold and error (type and message on one line, scrubbed).

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"variant": ["a", "b"], "symbol": ["goog", "goog"], "fold": [0, 0],
    ...                       "status": ["failed", "ok"], "error_type": ["ValueError", None],
    ...                       "error": ["C must be\\n  > 0", None]})
    >>> failure_rows(cells).to_dict("records")
    [{'variant': 'a', 'symbol': 'goog', 'fold': 0, 'error': 'ValueError: C must be > 0'}]
    """
    from cvn_sklearn.scrubbing import scrub_text

    failed = cells[cells["status"] != "ok"]
    errors = [scrub_text(" ".join(f"{kind}: {message}".split())) for kind, message in
              zip(failed["error_type"], failed["error"])]
    return pd.DataFrame({"variant": failed["variant"].to_numpy(), "symbol": failed["symbol"].to_numpy(),
                         "fold": failed["fold"].to_numpy(), "error": errors}, columns=["variant", "symbol", "fold", "error"])


def _failures_section(failed: pd.DataFrame) -> list[str]:
    if not len(failed):
        return []
    rows = failure_rows(failed)
    per_variant = rows.groupby("variant", sort=False).agg(failed_cells=("error", "size"), first_error=("error", "first"))
    listed = ("" if len(rows) <= FAILED_CELLS_SHOWN else
              f"The first {FAILED_CELLS_SHOWN} of the {len(rows)} failed cells (every one is in cells.csv):")
    return ['<h2 id="failures">Failures</h2>',
            f'<p class="note">{len(failed)} cell(s) failed; a variant with a failed cell is not ranked. Fix the cause '
            "and run the sweep again with <code>--retry-failed</code> (<code>retry_failed: true</code>).</p>",
            *([_table(per_variant.reset_index(), css="failures")] if len(per_variant) > 1 or listed else []),
            *([f'<p class="note">{listed}</p>'] if listed else []),
            _table(rows.head(FAILED_CELLS_SHOWN), css="failures")]


def shown_variants(result) -> list:
    """The variants the report shows and draws: every one up to :data:`SUMMARY_ABOVE`, else the ranking's best :data:`SHOWN_VARIANTS`."""
    names = list(result.ranking.index)
    return names if len(names) <= SUMMARY_ABOVE else names[:SHOWN_VARIANTS]


def _all_variants_section(result, shown) -> list[str]:
    """A summarised report's aggregates: the distribution of every variant's ranking figures, and a histogram."""
    ranking = result.ranking
    columns = [c for c in ("trades", "win_rate", "sharpe_ann", "sharpe_ann_gross", "sortino_ann", "max_drawdown",
                           "psr", "dsr") if c in ranking]
    spread = ranking[columns].astype(np.float64).describe(percentiles=[0.1, 0.5, 0.9]).T
    spread = spread.drop(columns="std").rename(columns={"count": "variants with a value"}).rename_axis("figure")
    failing = int((ranking["failed_cells"] > 0).sum()) if "failed_cells" in ranking else 0
    silent = int((ranking["trades"] == 0).sum()) if "trades" in ranking else 0
    return ['<h2 id="all-variants">All variants</h2>',
            f'<p class="note">{len(ranking)} variants: {failing} with a failed cell (not ranked), {silent} that never '
            f"traded. Per figure of the ranking, over every variant with a value:</p>",
            _table(spread.reset_index(), floats=3),
            _image(_spread_figure(result, shown))]


def _spread_figure(result, shown):
    import matplotlib.pyplot as plt

    sharpe = result.ranking["sharpe_ann"].astype(np.float64) if "sharpe_ann" in result.ranking else pd.Series(dtype=float)
    figure, axis = plt.subplots(figsize=(10, 3))
    finite = sharpe[np.isfinite(sharpe)]
    axis.hist(finite.to_numpy(), bins=min(60, max(10, len(finite) // 10)), color="#8c959f", label="all variants")
    for number, name in enumerate(n for n in shown if np.isfinite(sharpe.get(n, np.nan))):
        axis.axvline(sharpe[name], color=f"C{number % 10}", linewidth=1.0, label=str(name))
    axis.set_title(f"Annualised Sharpe ratio (net) of the {len(finite)} variants that traded; lines: the ones shown")
    axis.set_xlabel("annualised Sharpe ratio of the pooled series, net of costs")
    axis.set_ylabel("variants")
    _legend_outside(figure, axis)
    figure.subplots_adjust(left=0.09, bottom=0.17, top=0.9)
    return figure


def _pbo_note(result) -> str:
    note = getattr(result, "pbo_note", None)
    return f" ({html.escape(note.removeprefix('PBO not computed: '))})" if note and not np.isfinite(result.pbo) else ""


def config_yaml(config) -> str:
    """The sweep's config as YAML, scrubbed (:func:`~cvn_sklearn.scrubbing.scrub_structure`): what the report shows.

    Every field, at any depth: a variant's nested ``params``, a stacker's
    base models (estimators as their class name and changed parameters), a
    cross-validator as its class name and parameters, the tracking URI and the
    scheduler (their userinfo masked), paths as text.

    Examples
    --------
    >>> from cvn_sklearn.sweep import ScreenConfig
    >>> text = config_yaml(ScreenConfig(variants=[{"name": "a&b", "model": "logreg"}], symbols=["goog"],
    ...                                 folder="demo", tracking_uri="postgresql://me:pw@db/x"))
    >>> print("\\n".join(line for line in text.splitlines() if line.startswith(("folder", "tracking_uri"))))
    folder: demo
    tracking_uri: postgresql://***@db/x
    """
    import yaml

    from cvn_sklearn.scrubbing import scrub_structure

    return yaml.safe_dump(scrub_structure(_splitters_as_params(config.model_dump())), sort_keys=False,
                          allow_unicode=True, width=100)


def _splitters_as_params(value):
    """``value`` with every cross-validator (an object with ``split`` and ``get_n_splits``) as its class and parameters."""
    import inspect

    if isinstance(value, dict):
        return {key: _splitters_as_params(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_splitters_as_params(item) for item in value]
    if hasattr(value, "split") and hasattr(value, "get_n_splits") and not isinstance(value, (str, type)):
        names = [name for name in inspect.signature(type(value).__init__).parameters if name != "self"]
        return {"splitter": type(value).__name__,
                "params": {name: getattr(value, name) for name in names if hasattr(value, name)}}
    return value


def _number(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _table(frame: pd.DataFrame, floats: int = 4, css: str | None = None) -> str:
    """The frame as an HTML table, every header and cell scrubbed and escaped once."""
    frame = frame.rename(columns=lambda column: html.escape(str(column)))
    formatters = {c: (lambda v, f=floats: _cell(v, f)) for c in frame.columns}
    return frame.to_html(index=False, border=0, formatters=formatters, na_rep="", escape=False,
                         classes=css)


def _cell(value, floats):
    from cvn_sklearn.scrubbing import scrub_text

    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        return "" if not np.isfinite(value) else f"{value:.{floats}f}"
    return html.escape(scrub_text(str(value)))


def chart_info(figure) -> dict:
    """What a chart shows, read from the figure: per axes its title, axis labels, legend entries, x tick labels and lines.

    Each labelled line is ``{"label", "points", "finite"}``: how many of its
    points are drawn (a failed cell's window is NaN: a gap).

    The report writes it into each PNG (text chunk ``cvn_sklearn``) and the
    image's ``alt`` text, so a test or a reader without eyes can check that
    every chart says what it draws.
    """
    axes = []
    for axis in figure.axes:
        legend = axis.get_legend() or (figure.legends[0] if figure.legends else None)
        axes.append({
            "title": axis.get_title(),
            "xlabel": axis.get_xlabel(),
            "ylabel": axis.get_ylabel(),
            "legend": [text.get_text() for text in legend.get_texts()] if legend is not None else [],
            "xticklabels": _tick_labels(axis),
            "lines": [{"label": line.get_label(), "points": len(line.get_ydata()),
                       "finite": int(np.isfinite(np.asarray(line.get_ydata(), dtype=np.float64)).sum())}
                      for line in axis.get_lines() if not line.get_label().startswith("_")],
        })
    return {"axes": axes}


_DPI = 90


def _legend_outside(figure, axis, **kwargs) -> None:
    """The axis's legend to the right of the data, the figure's right margin made wide enough for it.

    Fixed margins: the figure is drawn once when saved, not twice as for a
    tight bounding box (the charts are most of the report's build time).
    """
    legend = axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, **kwargs)
    longest = max([len(text.get_text()) for text in legend.get_texts()] + [len(kwargs.get("title") or "")], default=0)
    figure.subplots_adjust(right=max(0.45, 1.0 - (longest * 4.7 + 50) / (figure.get_figwidth() * _DPI)))


def _tick_labels(axis) -> list[str]:
    """The x tick labels the axis will draw (its locator and formatter, in its limits), without drawing the figure."""
    ticks = axis.xaxis.get_major_ticks()
    if not ticks or not ticks[0].label1.get_visible():
        return []
    low, high = sorted(axis.get_xlim())
    locations = [t for t in axis.get_xticks() if low <= t <= high]
    return [label for label in axis.xaxis.get_major_formatter().format_ticks(locations) if label]


def _image(figure) -> str:
    import matplotlib.pyplot as plt

    info = chart_info(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"cvn_sklearn": json.dumps(info)})
    plt.close(figure)
    alt = "; ".join(a["title"] or f"{a['ylabel']} by {a['xlabel']}" for a in info["axes"])
    return (f'<img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">')


def _date_axis(axis, index) -> None:
    """The x axis of a series on ``index``: dates (year-month ticks) for a DatetimeIndex, else bar numbers."""
    if isinstance(index, pd.DatetimeIndex):
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        axis.xaxis.set_major_locator(locator)
        axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d" if (index.max() - index.min()).days < 120
                                                           else "%Y-%m"))
        axis.set_xlabel("date")
    else:
        axis.set_xlabel("bar (the row index of X; give X a DatetimeIndex for dates)")


def _compounded(returns: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative return in % and drawdown in %, NaN where ``returns`` is (a failed cell's window: a gap)."""
    values = returns.to_numpy(dtype=np.float64)
    gap = np.isnan(values)
    equity = np.cumprod(1.0 + np.where(gap, 0.0, values))
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    return np.where(gap, np.nan, (equity - 1.0) * 100.0), np.where(gap, np.nan, drawdown * 100.0)


def _equity_note(result) -> str:
    pooled = result.returns.index.get_level_values("symbol").nunique() > SYMBOL_CHARTS
    where = ("The symbols pooled into the ranking's one series (capital split equally among the symbols trading), "
             "on its calendar" if pooled else "Per symbol, on the dates of its test windows")
    hold = "an equal-weight buy and hold of the symbols" if pooled else "buy and hold of the symbol"
    return (f"{where}: the cumulative return in % of each variant, compounded bar by bar, net of costs per trade "
            f"(solid) and gross (dashed); {hold} over the same windows (black, before costs); below, the drawdown of "
            "the net curve from its peak. A failed cell's window is a gap.")


def _equity_figures(result, shown):
    costs = result.cells.groupby("symbol")["cost"].first() if "cost" in result.cells else pd.Series(dtype=float)
    hold = getattr(result, "buy_and_hold", None)
    symbols = list(result.returns.index.get_level_values("symbol").unique())
    if len(symbols) > SYMBOL_CHARTS:
        yield _equity_figure(result.pooled[shown], result.pooled_gross[shown], _pooled_hold(result, symbols),
                             f"equal-weight buy and hold of the {len(symbols)} symbols",
                             f"{len(symbols)} symbols pooled: cumulative return, net of each symbol's cost per trade")
        return
    for symbol in symbols:
        held = None
        if hold is not None and symbol in hold.index.get_level_values("symbol"):
            held = hold.xs(symbol, level="symbol")["buy_and_hold"]
        cost = float(costs.get(symbol, float("nan")))
        yield _equity_figure(result.returns.xs(symbol, level="symbol")[shown],
                             result.returns_gross.xs(symbol, level="symbol")[shown], held, f"buy and hold {symbol}",
                             f"{symbol}: cumulative return on its test windows, net of {cost * 1e4:.1f} bps a trade")


def _pooled_hold(result, symbols):
    """The symbols' buy and hold pooled as the ranking pools the variants (:func:`cvn_sklearn.trading.pool`); None without."""
    from cvn_sklearn.trading import pool

    hold = getattr(result, "buy_and_hold", None)
    if hold is None or "periods_per_year" not in result.cells:
        return None
    per_year = result.cells.dropna(subset=["periods_per_year"]).groupby("symbol")["periods_per_year"].first()
    if set(per_year.index) != set(symbols):
        return None
    pooled, _, _ = pool({s: hold.xs(s, level="symbol")["buy_and_hold"] for s in symbols}, per_year.to_dict())
    return pooled


def _equity_figure(net: pd.DataFrame, gross: pd.DataFrame, hold, hold_label: str, title: str):
    """Cumulative return in % (net solid, gross dashed, buy and hold black) over a drawdown panel, on ``net``'s index."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    x = net.index
    handles = []
    if hold is not None:
        handles += top.plot(x, _compounded(hold.reindex(x))[0], color="black", linewidth=1.4, label=hold_label)
    for number, variant in enumerate(net.columns):
        color = f"C{number % 10}"
        cumulative, drawdown = _compounded(net[variant])
        handles += top.plot(x, cumulative, color=color, label=f"{variant} (net)", linewidth=1.2)
        top.plot(x, _compounded(gross[variant])[0], color=color, linestyle="--", linewidth=0.8, alpha=0.7,
                 label=f"{variant} (gross)")
        bottom.plot(x, drawdown, color=color, linewidth=1.0, label=f"{variant} (drawdown)")
    handles.append(Line2D([], [], color="#57606a", linestyle="--", linewidth=0.8, label="dashed: gross of costs"))
    top.axhline(0.0, color="#8c959f", linewidth=0.6)
    top.set_title(title)
    top.set_ylabel("cumulative return (%)")
    _legend_outside(figure, top, handles=handles)
    figure.subplots_adjust(left=0.08, bottom=0.1, top=0.93, hspace=0.25)
    bottom.set_ylabel("drawdown (%)")
    bottom.set_title("drawdown of the net curve from its peak", fontsize=8)
    _date_axis(bottom, x)
    top.tick_params(labelbottom=False)
    return figure


def units(result) -> str:
    """One sentence saying what the ranking's numbers are: costs, annualisation, calendar and T."""
    costs = result.cells.groupby("symbol")["cost"].first() if "cost" in result.cells else pd.Series(dtype=float)
    paid = ", ".join(f"{symbol} {cost * 1e4:g} bps" for symbol, cost in costs.items())
    calendar = "bars of the symbols" if result.calendar == "bars" else "calendar days (bar returns summed per day)"
    t = result.ranking["T"].dropna() if "T" in result.ranking else pd.Series(dtype=float)
    periods = f"T = {int(t.iloc[0])} periods" if len(t) else "no complete variant"
    return (f"Net of a round-trip cost per trade ({paid}); gross beside it. Sharpe and Sortino annualised with "
            f"{result.periods_per_year:g} periods per year on one pooled calendar: the {calendar}, capital split "
            f"equally among the symbols trading; PSR, DSR and PBO computed on that series, {periods}.")


def _trades_figure(result, shown):
    import matplotlib.pyplot as plt

    per_fold = result.by_variant[result.by_variant["fold"] != "all"].pivot(index="fold", columns="variant",
                                                                        values="avg_trades")
    per_fold = per_fold[[name for name in shown if name in per_fold.columns]]
    figure, axis = plt.subplots(figsize=(10, 3.2))
    per_fold.plot.bar(ax=axis, rot=0)
    axis.set_xlabel("walk-forward fold")
    axis.set_ylabel("average trades per symbol")
    axis.set_title("Trades per fold: a variant far above the others over-trades")
    _legend_outside(figure, axis, title="variant")
    figure.subplots_adjust(left=0.09, bottom=0.16, top=0.9)
    return figure


def _pooled_bins(cells: pd.DataFrame, prefix: str):
    """Mean P(buy) and share of buys per bin, pooled over ``cells``' reliability bins (``prefix``: val or test); None if absent."""
    columns = [f"{prefix}_count", f"{prefix}_positives", f"{prefix}_mean_proba"]
    if any(c not in cells for c in columns):
        return None
    kept = cells[columns].dropna()
    kept = kept[kept[columns[0]].map(lambda v: isinstance(v, (list, np.ndarray)) and len(v) > 0)]
    if not len(kept):
        return None
    count = np.sum(np.vstack(kept[columns[0]].map(np.asarray)), axis=0)
    positives = np.sum(np.vstack(kept[columns[1]].map(np.asarray)), axis=0)
    mean = np.sum([np.asarray(m) * np.asarray(c) for m, c in zip(kept[columns[2]], kept[columns[0]])], axis=0)
    has = count > 0
    return mean[has] / count[has], positives[has] / count[has]


def _curve(row, name):
    value = row.get(name) if hasattr(row, "get") else None
    return value if isinstance(value, (list, np.ndarray)) and len(value) else None


def _calibration_figures(result, config, shown):
    import matplotlib.pyplot as plt

    ok = result.cells[(result.cells["status"] == "ok") & result.cells["variant"].isin(shown)]
    objective = getattr(config, "objective", None) or "objective"
    groups = dict(list(ok.groupby("variant", sort=False)))
    for variant, cells in ((name, groups[name]) for name in shown if name in groups):
        figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.7))
        figure.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.34, wspace=0.28)
        left.plot([0, 1], [0, 1], color="#8c959f", linestyle=":", label="perfectly calibrated")
        for prefix, style, label in (("reliability_test", "-", "test blocks (out of sample)"),
                                     ("reliability", "--", "validation (fitted on)")):
            pooled = _pooled_bins(cells, prefix)
            if pooled is not None:
                left.plot(*pooled, marker="o", linestyle=style, markersize=3, label=label,
                          color="C0" if prefix == "reliability_test" else "#8c959f")
        left.set_title(f"{variant}: reliability", fontsize=9)
        left.set_xlabel("mean P(buy) in the bin")
        left.set_ylabel("share of buys")
        left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), frameon=False)
        last = cells.iloc[-1]
        thresholds = _curve(last, "theta_thresholds")
        if thresholds is not None:
            test = _curve(last, "theta_test_scores")
            if test is not None:
                right.plot(thresholds, test, color="C0", label=f"{objective}, test block")
                right.plot(thresholds, _curve(last, "theta_test_positive_rates"), color="C1",
                           label="positive rate, test block")
            right.plot(thresholds, last["theta_scores"], color="C0", linestyle="--", label=f"{objective}, validation")
            right.plot(thresholds, last["theta_positive_rates"], color="C1", linestyle="--",
                       label="positive rate, validation")
            no_trade = last["threshold"] > 1
            right.axvline(min(last["threshold"], 1.0), color="#cf222e", linestyle=":" if no_trade else "-.",
                          label="θ = no trade (no edge)" if no_trade else f"θ = {last['threshold']:.3f}")
            right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), frameon=False, ncol=2)
        right.set_title(f"{variant}: θ curve ({last['symbol']}, fold {last['fold']})", fontsize=9)
        right.set_xlabel("θ (buy when P(buy) ≥ θ)")
        right.set_ylabel(f"{objective} / positive rate")
        yield figure
