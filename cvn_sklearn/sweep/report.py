"""The screening sweep's report: one self-contained HTML file to look at.

:func:`write_report` turns a :class:`~cvn_sklearn.sweep.tables.ScreenResult` into
one HTML file with its images and styles inline (no network, no scripts): the
ranking with the deflated Sharpe ratio and the PBO explained in a sentence
each, per-symbol equity curves of every variant (folds marked), the per-fold
table, trades per fold per variant (an over-trading variant stands out), the
pooled validation reliability diagram and a θ curve per variant, the config
and the library versions. The config is scrubbed as a structure and every
text cell of the tables as text (:mod:`cvn_sklearn.scrubbing`). Needs matplotlib (the ``plots`` extra).
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
    ranking = result.ranking.copy()
    sections = [
        f"<h1>Screening sweep: {len(config.variants)} variants x {len(config.symbols)} symbols x "
        f"{result.cells['fold'].nunique()} folds</h1>",
        f"<p>{len(result.cells)} cells, {int((result.cells['status'] != 'ok').sum())} failed, "
        f"{int(result.cells['cached'].sum())} read back from the cell store.</p>",
        "<h2>Ranking</h2>",
        f'<p class="note">{html.escape(units(result))}</p>',
        _table(ranking.reset_index(), floats=4),
        '<p class="note"><b>DSR</b> (deflated Sharpe ratio): the probability that the variant\'s true Sharpe '
        "ratio beats what the best of the variants tried would reach by luck alone; above 0.95 is strong evidence. "
        "<b>PSR</b> is the same against a Sharpe ratio of 0, without the correction for the number of variants.</p>",
        f'<p class="note"><b>PBO = {_number(result.pbo)}</b> (probability of backtest overfitting): how often the '
        "variant best on one half of the periods is below the median on the other half; near 0.5 means the ranking "
        "is noise, near 0 that the best variant stays best.</p>",
        "<h2>Equity curves (cumulative out-of-sample returns per bar, net of costs; dashed: gross)</h2>",
        *[_image(figure) for figure in _equity_figures(result)],
        "<h2>Per fold</h2>",
        _table(result.by_variant, floats=3),
        "<h2>Trades per fold</h2>",
        _image(_trades_figure(result)),
        "<h2>Calibration and θ</h2>",
        '<div class="grid">',
        *[_image(figure) for figure in _calibration_figures(result)],
        "</div>",
        "<h2>Config</h2>",
        f"<pre>{html.escape(json.dumps(_public_config(config), indent=2, default=str))}</pre>",
        "<h2>Library versions</h2>",
        _table(pd.DataFrame(sorted(library_versions().items()), columns=["library", "version"])),
    ]
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>cvn_sklearn screening report</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path


def _public_config(config) -> dict:
    """The whole config as a plain structure, scrubbed (:func:`~cvn_sklearn.scrubbing.scrub_structure`).

    Every field, at any depth: a variant's nested ``params``, a stacker's
    base models (estimators walked through their parameters), the tracking
    URI and the scheduler (their userinfo masked).
    """
    from cvn_sklearn.scrubbing import scrub_structure

    return scrub_structure(config.model_dump())


def _number(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _table(frame: pd.DataFrame, floats: int = 4) -> str:
    formatters = {c: (lambda v, f=floats: _cell(v, f)) for c in frame.columns}
    return frame.to_html(index=False, border=0, formatters=formatters, na_rep="", escape=True)


def _cell(value, floats):
    from cvn_sklearn.scrubbing import scrub_text

    if isinstance(value, float):
        return "" if not np.isfinite(value) else f"{value:.{floats}f}"
    return html.escape(scrub_text(str(value)))


def _image(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _equity_figures(result):
    import matplotlib.pyplot as plt

    costs = result.cells.groupby("symbol")["cost"].first() if "cost" in result.cells else {}
    for symbol in result.returns.index.get_level_values("symbol").unique():
        net = result.returns.xs(symbol, level="symbol")
        gross = result.returns_gross.xs(symbol, level="symbol")
        figure, axis = plt.subplots(figsize=(10, 3.2))
        for number, variant in enumerate(net.columns):
            color = f"C{number % 10}"
            axis.plot(net.index, net[variant].fillna(0.0).cumsum().to_numpy(), color=color, label=variant, linewidth=1.2)
            axis.plot(gross.index, gross[variant].fillna(0.0).cumsum().to_numpy(), color=color, linestyle="--",
                      linewidth=0.8, alpha=0.7)
        cost = costs.get(symbol, float("nan")) if hasattr(costs, "get") else float("nan")
        axis.set_title(f"{symbol}: cumulative return on its test bars, net of {cost * 1e4:.1f} bps a trade "
                       "(dashed: gross)")
        axis.set_ylabel("sum of bar returns")
        axis.legend(fontsize=7, ncol=4)
        figure.autofmt_xdate()
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
    axis.set_ylabel("average trades per symbol")
    axis.set_title("Trades per fold: a variant far above the others over-trades")
    axis.legend(fontsize=7, ncol=4)
    return figure


def _calibration_figures(result):
    import matplotlib.pyplot as plt

    ok = result.cells[result.cells["status"] == "ok"]
    for variant, cells in ok.groupby("variant", sort=False):
        figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
        count = np.sum(np.vstack(cells["reliability_count"].map(np.asarray)), axis=0)
        positives = np.sum(np.vstack(cells["reliability_positives"].map(np.asarray)), axis=0)
        mean = np.sum([np.asarray(m) * np.asarray(c) for m, c in zip(cells["reliability_mean_proba"],
                                                                       cells["reliability_count"])], axis=0)
        has = count > 0
        left.plot([0, 1], [0, 1], color="#8c959f", linestyle=":")
        left.plot(mean[has] / count[has], positives[has] / count[has], marker="o")
        left.set_title(f"{variant}: reliability (val)", fontsize=9)
        left.set_xlabel("mean P(buy)")
        left.set_ylabel("share of buys")
        last = cells.iloc[-1]
        if isinstance(last.get("theta_thresholds"), (list, np.ndarray)) and len(last["theta_thresholds"]):
            right.plot(last["theta_thresholds"], last["theta_scores"], label="objective")
            right.plot(last["theta_thresholds"], last["theta_positive_rates"], label="positive rate")
            no_trade = last["threshold"] > 1
            right.axvline(min(last["threshold"], 1.0), color="#cf222e", linestyle=":" if no_trade else "--",
                          label="θ = no trade (no edge)" if no_trade else f"θ = {last['threshold']:.3f}")
            right.legend(fontsize=7)
        right.set_title(f"{variant}: θ curve ({last['symbol']}, fold {last['fold']})", fontsize=9)
        right.set_xlabel("θ")
        yield figure
