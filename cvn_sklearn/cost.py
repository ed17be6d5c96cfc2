"""The work of one fit, estimated from what a model file declares: how the sweep orders its cells.

A model file declares, as data, which of its constructor parameters multiply
the work of one pass over the rows (rows x features): its ``fit_cost`` class
attribute, a tuple of factors. :func:`fit_cost` turns that declaration, an
estimator's parameters and a data shape into a number. It orders work only:
the screening sweep starts its costliest cells first, so that a long cell does
not start last while the other workers sit idle. A wrong estimate changes that
order, never a result. Comparable between variants of one model; between
models, a guess.

A factor is one of:

``"name"``
    the value of the parameter ``name`` (boosting rounds, trees, leaves, depth);
``"2**name"``
    two to the power of the parameter (the leaves of a tree of that depth,
    the exponent capped at 16);
``("name", default)`` or ``("2**name", default)``
    the same, with ``default`` in place of an unset parameter.

A parameter is unset when it is ``None`` or not positive (these libraries'
"no limit" or "library default"); an unset parameter without a default counts
as ``log2(n_rows)``, about the depth a tree without a depth limit reaches.
A model that declares nothing (the default, ``()``) costs one pass; so does
any estimator without the attribute (an ensemble, whose base models the sweep
fits beforehand).

Examples
--------
>>> from cvn_sklearn.registry import registry
>>> registry["lightgbm"].fit_cost
('n_estimators', 'num_leaves')
>>> fit_cost(registry["lightgbm"](n_estimators=100, num_leaves=31), 1000, 10)
31000000.0
>>> fit_cost(registry["logreg"](), 1000, 10)
10000.0
"""

import math

__all__ = ["fit_cost"]

_MAX_EXPONENT = 16


def fit_cost(estimator, n_rows: int, n_features: int, *, params: dict | None = None) -> float:
    """Rough work of fitting ``estimator`` on ``n_rows`` x ``n_features``, in arbitrary units.

    Parameters
    ----------
    estimator : estimator
        Its class's ``fit_cost`` declaration (see the module docstring) and its
        parameters set the factors; no declaration is one pass.
    n_rows, n_features : int
        The shape of the rows it is fitted on.
    params : dict, default=None
        ``estimator.get_params(deep=False)``, when the caller has it already:
        reading an estimator's parameters takes about 0.1 ms, and a sweep
        estimates each variant on many folds.

    Returns
    -------
    float
        ``n_rows * n_features`` times every declared factor.

    Raises
    ------
    ValueError
        If the declaration names a parameter the estimator does not have.
    """
    params = estimator.get_params(deep=False) if params is None else params
    cost = float(n_rows) * n_features
    for factor in getattr(type(estimator), "fit_cost", ()):
        cost *= _factor(type(estimator).__name__, factor, params, n_rows)
    return cost


def _factor(owner, factor, params, n_rows) -> float:
    spec, default = factor if isinstance(factor, tuple) else (factor, None)
    name = spec.removeprefix("2**")
    if name not in params:
        raise ValueError(
            f"{owner}.fit_cost names {name!r}, which is not one of its parameters; name constructor parameters "
            f"({sorted(params)})."
        )
    value = params[name]
    if value is None or value <= 0:
        value = max(1.0, math.log2(max(n_rows, 2))) if default is None else default
    return 2.0 ** min(value, _MAX_EXPONENT) if spec.startswith("2**") else float(value)
