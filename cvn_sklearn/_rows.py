"""Rows in time order: the one "last rows" split, row selection, and row alignment.

A leaf module: the adapter's early-stopping rows, the meta-estimators'
temporal hold-outs and :meth:`Datasets.temporal_split
<cvn_sklearn.contracts.Datasets.temporal_split>` all cut their held-out rows
with :func:`last_rows`, so "the last rows, in time order" means the same thing
everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from cvn_sklearn._disk import plain

__all__ = ["check_aligned", "last_rows", "n_last_rows", "take_rows"]


def n_last_rows(n_samples: int, size: float) -> int:
    """How many rows a share ``size`` of ``n_samples`` holds: rounded up, to whole rows.

    ``size * n_samples`` is rounded to 9 decimals first, so float noise
    (``0.15 * 400 = 60.000000000000007``) does not add a row.

    Examples
    --------
    >>> n_last_rows(400, 0.15), n_last_rows(5, 0.4), n_last_rows(10, 0.01)
    (60, 2, 1)
    """
    return math.ceil(round(size * n_samples, 9))


def last_rows(n_samples: int, size: float, *, owner: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n_samples)`` in time order: the head, and the last ``size`` share.

    Parameters
    ----------
    n_samples : int
    size : float in (0, 1)
        Share of the rows held out at the end (rounded up to whole rows).
    owner, what : str
        Names used in the error message.

    Returns
    -------
    head, tail : ndarray of int
        ``head`` precedes ``tail``; neither is shuffled.

    Raises
    ------
    ValueError
        If the head or the tail would be empty.

    Examples
    --------
    >>> last_rows(5, 0.4, owner="ThetaSweep", what="θ rows")
    (array([0, 1, 2]), array([3, 4]))
    """
    n_tail = n_last_rows(n_samples, size)
    if not 0 < n_tail < n_samples:
        raise ValueError(
            f"{owner}: holding out the last {size} of {n_samples} rows as {what} leaves "
            f"{n_samples - n_tail} row(s) before them; pass more rows or a smaller share."
        )
    rows = np.arange(n_samples)
    return rows[:-n_tail], rows[-n_tail:]


def take_rows(values, rows):
    """Rows of a DataFrame, Series or array-like by position (a slice or an index array)."""
    return values.iloc[rows] if hasattr(values, "iloc") else np.asarray(values)[rows]


def check_aligned(owner: str, X, **parts) -> None:
    """Refuse per-row parts (``y``, ``returns``, ``t1``, ...) not aligned with ``X`` row by row.

    Lengths must match; pandas parts must carry the same index as a pandas
    ``X`` (rows are never paired by position behind the user's back).

    Raises
    ------
    ValueError
        Naming the part, what differs and how to fix it.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    >>> check_aligned("Datasets", X, y=pd.Series([0, 1, 0]))
    >>> check_aligned("Datasets", X, y=pd.Series([0, 1, 0], index=[2, 1, 0]))
    Traceback (most recent call last):
    ...
    ValueError: Datasets: y's index differs from X's (first difference at position 0: 2 vs 0); rows would be paired by position. Align it first, e.g. y = y.reindex(X.index), or pass y.to_numpy() if the order is already right.
    """
    n_rows = len(X)
    for name, value in parts.items():
        if value is None:
            continue
        if len(value) != n_rows:
            raise ValueError(
                f"{owner}: X has {n_rows} rows but {name} has {len(value)}; they must be aligned row by row "
                f"(one {name} value per row of X)."
            )
        if hasattr(X, "iloc") and hasattr(value, "iloc") and not value.index.equals(X.index):
            diff = np.flatnonzero(np.asarray(value.index != X.index))
            where = f" (first difference at position {diff[0]}: {plain(value.index[diff[0]])!r} vs {plain(X.index[diff[0]])!r})" if diff.size else ""
            raise ValueError(
                f"{owner}: {name}'s index differs from X's{where}; rows would be paired by position. Align it "
                f"first, e.g. {name} = {name}.reindex(X.index), or pass {name}.to_numpy() if the order is already right."
            )
