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
    sections = [
        f"<h1>Screening sweep: {len(config.variants)} variants x {len(config.symbols)} symbols x "
        f"{result.cells['fold'].nunique()} folds</h1>",
        f"<p>{len(result.cells)} cells, {len(failed)} failed, "
        f"{int(result.cells['cached'].sum())} read back from the cell store.</p>",
        *_failures_section(failed),
        "<h2>Ranking</h2>",
        f'<p class="note">{html.escape(units(result))}</p>',
        _table(result.ranking.reset_index(), floats=4),
        '<p class="note"><b>DSR</b> (deflated Sharpe ratio): the probability that the variant\'s true Sharpe '
        "ratio beats what the best of the variants tried would reach by luck alone; above 0.95 is strong evidence. "
        "<b>PSR</b> is the same against a Sharpe ratio of 0, without the correction for the number of variants.</p>",
        f'<p class="note"><b>PBO = {_number(result.pbo)}</b>{_pbo_note(result)} (probability of backtest '
        "overfitting): how often the variant best on one half of the periods is below the median on the other half; "
        "near 0.5 means the ranking is noise, near 0 that the best variant stays best.</p>",
        "<h2>Equity curves</h2>",
        '<p class="note">Per symbol, on the dates of its test windows: the cumulative return in % of each variant, '
        "compounded bar by bar, net of the symbol's cost per trade (solid) and gross (dashed); buy and hold of the "
        "symbol over the same windows (black, before costs); below, the drawdown of the net curve from its peak. A "
        "failed cell's window is a gap.</p>",
        *[_image(figure) for figure in _equity_figures(result)],
        "<h2>Per fold</h2>",
        _table(result.by_variant, floats=3),
        "<h2>Trades per fold</h2>",
        _image(_trades_figure(result)),
        "<h2>Calibration and θ</h2>",
        '<p class="note">Per variant, pooled over its cells: the reliability diagram of the test blocks (out of '
        "sample, solid) beside that of the validation rows the calibrator was fitted on (dashed); the θ curve of "
        "its last cell on its test block (solid) and on the validation rows θ was picked on (dashed).</p>",
        '<div class="grid">',
        *[_image(figure) for figure in _calibration_figures(result, config)],
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
    return ['<h2 id="failures">Failures</h2>',
            f'<p class="note">{len(failed)} cell(s) failed; a variant with a failed cell is not ranked. Fix the cause '
            "and run the sweep again with <code>--retry-failed</code> (<code>retry_failed: true</code>).</p>",
            _table(failure_rows(failed), css="failures")]


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
    figure.canvas.draw()
    axes = []
    for axis in figure.axes:
        legend = axis.get_legend() or (figure.legends[0] if figure.legends else None)
        axes.append({
            "title": axis.get_title(),
            "xlabel": axis.get_xlabel(),
            "ylabel": axis.get_ylabel(),
            "legend": [text.get_text() for text in legend.get_texts()] if legend is not None else [],
            "xticklabels": [label.get_text() for label in axis.get_xticklabels() if label.get_text()],
            "lines": [{"label": line.get_label(), "points": len(line.get_ydata()),
                       "finite": int(np.isfinite(np.asarray(line.get_ydata(), dtype=np.float64)).sum())}
                      for line in axis.get_lines() if not line.get_label().startswith("_")],
        })
    return {"axes": axes}


def _image(figure) -> str:
    import matplotlib.pyplot as plt

    info = chart_info(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"cvn_sklearn": json.dumps(info)})
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


def _equity_figures(result):
    import matplotlib.pyplot as plt

    costs = result.cells.groupby("symbol")["cost"].first() if "cost" in result.cells else pd.Series(dtype=float)
    hold = getattr(result, "buy_and_hold", None)
    for symbol in result.returns.index.get_level_values("symbol").unique():
        net = result.returns.xs(symbol, level="symbol")
        gross = result.returns_gross.xs(symbol, level="symbol")
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4.6), sharex=True,
                                             gridspec_kw={"height_ratios": [3, 1.3]})
        x = net.index
        if hold is not None and symbol in hold.index.get_level_values("symbol"):
            held, _ = _compounded(hold.xs(symbol, level="symbol")["buy_and_hold"].reindex(x))
            top.plot(x, held, color="black", linewidth=1.4, label=f"buy and hold {symbol}")
        for number, variant in enumerate(net.columns):
            color = f"C{number % 10}"
            cumulative, drawdown = _compounded(net[variant])
            top.plot(x, cumulative, color=color, label=f"{variant} (net)", linewidth=1.2)
            top.plot(x, _compounded(gross[variant])[0], color=color, linestyle="--", linewidth=0.8, alpha=0.7,
                     label=f"{variant} (gross)")
            bottom.plot(x, drawdown, color=color, linewidth=1.0)
        top.axhline(0.0, color="#8c959f", linewidth=0.6)
        cost = float(costs.get(symbol, float("nan")))
        top.set_title(f"{symbol}: cumulative return on its test windows, net of {cost * 1e4:.1f} bps a trade")
        top.set_ylabel("cumulative return (%)")
        top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        bottom.set_ylabel("drawdown (%)")
        bottom.set_title("drawdown of the net curve from its peak", fontsize=8)
        _date_axis(bottom, x)
        top.tick_params(labelbottom=False)
        yield figure


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


def _trades_figure(result):
    import matplotlib.pyplot as plt

    per_fold = result.by_variant[result.by_variant["fold"] != "all"].pivot(index="fold", columns="variant",
                                                                        values="avg_trades")
    figure, axis = plt.subplots(figsize=(10, 3.2))
    per_fold.plot.bar(ax=axis, rot=0)
    axis.set_xlabel("walk-forward fold")
    axis.set_ylabel("average trades per symbol")
    axis.set_title("Trades per fold: a variant far above the others over-trades")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="variant")
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


def _calibration_figures(result, config):
    import matplotlib.pyplot as plt

    ok = result.cells[result.cells["status"] == "ok"]
    objective = getattr(config, "objective", None) or "objective"
    for variant, cells in ok.groupby("variant", sort=False):
        figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
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
        left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.22), frameon=False)
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
            right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.22), frameon=False, ncol=2)
        right.set_title(f"{variant}: θ curve ({last['symbol']}, fold {last['fold']})", fontsize=9)
        right.set_xlabel("θ (buy when P(buy) ≥ θ)")
        right.set_ylabel(f"{objective} / positive rate")
        yield figure
