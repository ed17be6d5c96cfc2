"""The one secret rule: which names and values must never leave the process.

A leaf module (it imports nothing from the package), so that every place a
value can be written uses it: :mod:`cvn_sklearn.persist` (MLflow params, tags
and model files) and :mod:`cvn_sklearn.events` (the event stream).

**Names** (any case) that contain ``password``, ``passwd``, ``passphrase``,
``pwd``, ``secret``, ``token``, ``credential``, ``session``, ``cookie`` or
``private_key``/``access_key``/``api_key`` (with or without the separator),
that contain ``pass`` right after a separator or at the start (``DB_PASS``,
``pass``), or that end in ``key`` after a separator (``AWS_KEY``).

**Values** (strings) that look like a credential: known token formats (AWS,
GitHub, Slack, JWT, ``sk-...``), private keys, URLs with a password,
``Bearer``/``Basic`` headers, hexadecimal strings of 16+ characters mixing
letters and digits, and opaque strings of 32+ characters mixing letters and
digits.

Examples
--------
>>> from cvn_sklearn.scrubbing import looks_like_secret
>>> [looks_like_secret(n, 1) for n in ("DB_PASS", "pwd", "passphrase", "accesstoken", "mytoken", "sessionid")]
[True, True, True, True, True, True]
>>> looks_like_secret("seed", "9f86d081884c7d65"), looks_like_secret("max_depth", 6)
(True, False)
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping

__all__ = ["SCRUBBED", "looks_like_secret", "scrub", "scrubbed_copy", "secret_values"]

SCRUBBED = "***scrubbed***"

_SECRET_NAME = re.compile(
    r"passw(or)?d|passphrase|pwd|secret|token|credential|session|cookie"
    r"|(private|access|api)[_\-.]?key"
    r"|(^|[_\-.])pass"
    r"|(^|[_\-.])key$",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|(ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"  # GitHub tokens
    r"|sk-[A-Za-z0-9_\-]{16,}"  # OpenAI-style secret keys
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"  # JSON web tokens
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|[a-z][a-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@"  # URL with user:password@
    r"|(?i:bearer|basic)\s+[A-Za-z0-9+/=_.\-]{8,}"
)
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_\-]{32,}|\b[0-9A-Fa-f]{16,}\b")


def looks_like_secret(name, value) -> bool:
    """Whether a parameter must not be logged: its name or its value looks like a credential.

    See the module docstring for the rule.

    Parameters
    ----------
    name : str
    value : object

    Returns
    -------
    bool

    Examples
    --------
    >>> looks_like_secret("learning_rate", 0.05), looks_like_secret("DB_PASSWORD", "x")
    (False, True)
    >>> looks_like_secret("endpoint", "postgresql://bob:hunter2@db:5432/ml")
    True
    """
    return bool(_SECRET_NAME.search(str(name))) or (isinstance(value, str) and _secret_value(value))


def _secret_value(value: str) -> bool:
    if _SECRET_VALUE.search(value):
        return True
    return any(any(c.isdigit() for c in token) and any(c.isalpha() for c in token) for token in _OPAQUE.findall(value))


def scrub(params: Mapping) -> dict:
    """Replace secret-looking parameters by :data:`SCRUBBED`, at any depth.

    Mappings, lists and tuples are searched, and so are estimators (through
    their ``get_params``: an ensemble's base models, a pipeline's steps), which
    are replaced by scrubbed copies.

    Parameters
    ----------
    params : mapping
        Parameter names to values; values may be mappings, sequences or
        estimators themselves.

    Returns
    -------
    dict
        A new dict; entries that hold no secret are the original objects.

    Examples
    --------
    >>> scrub({"max_depth": 6, "params": {"aws_secret_access_key": "abc"}, "API_TOKEN": "t"})
    {'max_depth': 6, 'params': {'aws_secret_access_key': '***scrubbed***'}, 'API_TOKEN': '***scrubbed***'}
    >>> scrub({"servers": [{"host": "db", "password": "hunter2"}]})
    {'servers': [{'host': 'db', 'password': '***scrubbed***'}]}
    """
    return {name: _scrub_value(name, value) for name, value in params.items()}


def _scrub_value(name, value):
    if looks_like_secret(name, value):
        return SCRUBBED
    if isinstance(value, Mapping):
        cleaned = scrub(value)
        return value if all(cleaned[k] is value[k] for k in value) else cleaned
    if isinstance(value, (list, tuple)):
        cleaned = [_scrub_value(name, item) for item in value]
        return value if all(c is v for c, v in zip(cleaned, value)) else type(value)(cleaned)
    if _is_estimator(value):
        return scrubbed_copy(value)
    return value


def _is_estimator(value) -> bool:
    return hasattr(value, "get_params") and not isinstance(value, type)


def _estimators(root) -> list:
    """Every estimator reachable from ``root``: its parameters and its fitted state, at any depth."""
    found, seen, stack = [], set(), [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Mapping):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif _is_estimator(obj):
            found.append(obj)
            stack.extend(vars(obj).values() if hasattr(obj, "__dict__") else ())
    return found


def _secret_params(estimator) -> dict:
    """The estimator's own (not nested) parameters whose name or value holds a secret, scrubbed."""
    params = estimator.get_params(deep=False)
    cleaned = {name: _scrub_value(name, value) for name, value in params.items() if not _is_estimator(params[name])}
    return {name: value for name, value in cleaned.items() if value is not params[name]}


def scrubbed_copy(estimator):
    """``estimator``, or a deep copy in which no reachable estimator holds a secret-looking parameter.

    Reachable means through parameters *and* fitted state: an ensemble's
    fitted base models (``estimators_``), a meta-estimator's ``estimator_``,
    an adapter's native model.

    Parameters
    ----------
    estimator : estimator

    Returns
    -------
    estimator
        ``estimator`` itself when nothing needed scrubbing; else a copy.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.ensemble import VotingClassifier
    >>> vote = VotingClassifier([("d", DummyClassifier(constant="token-ab12cd34ef56ab78"))])
    >>> scrubbed_copy(vote).estimators[0][1].constant
    '***scrubbed***'
    """
    if not any(_secret_params(est) for est in _estimators(estimator)):
        return estimator
    estimator = copy.deepcopy(estimator)
    for est in _estimators(estimator):
        for name, value in _secret_params(est).items():
            est.set_params(**{name: value})
    return estimator


def secret_values(estimator) -> dict:
    """``{parameter name: value}`` of the secret-looking string parameters anywhere in ``estimator``.

    Used to check a written file holds none of them.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> secret_values(DummyClassifier(constant="postgresql://bob:hunter2@db/ml"))
    {'constant': 'postgresql://bob:hunter2@db/ml'}
    """
    values = {}
    for est in _estimators(estimator):
        for name, value in est.get_params(deep=False).items():
            values |= _strings_in(name, value, looks_like_secret(name, value))
    return values


def _strings_in(name, value, secret: bool) -> dict:
    """The string leaves of ``value`` that are secret (by their name, an ancestor's name, or their value)."""
    if isinstance(value, Mapping):
        return {k: v for key, item in value.items() for k, v in _strings_in(key, item, secret or looks_like_secret(key, item)).items()}
    if isinstance(value, (list, tuple)):
        return {k: v for item in value for k, v in _strings_in(name, item, secret).items()}
    if isinstance(value, str) and (secret or looks_like_secret(name, value)) and len(value) >= 4:
        return {name: value}
    return {}
