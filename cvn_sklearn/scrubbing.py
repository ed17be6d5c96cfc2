"""The one secret rule: which names and values must never leave the process.

A leaf module (it imports nothing from the package), so that every place a
value can be written uses it: :mod:`cvn_sklearn.persist` (MLflow params, tags
and model files), :mod:`cvn_sklearn.events` (the event stream), the screening
sweep (:mod:`cvn_sklearn.sweep`: MLflow parent and child runs, the report, the
cells' error messages) and the OOS store's refit files
(:mod:`cvn_sklearn.oos_store`).

One walk, :func:`scrub_structure`, goes through mappings, lists, tuples,
scikit-learn estimators (their ``get_params(deep=False)``, nested estimators
and ``(name, estimator)`` lists such as ``base_models`` included) and strings,
and returns a plain, JSON-serialisable structure with the secrets masked.
:func:`scrub` (same walk, same rule) keeps the types instead: a dict of the
original objects, estimators replaced by scrubbed copies; :func:`scrubbed_copy`
applies the rule to an estimator's parameters and fitted state;
:func:`scrub_text` applies it to free text (error messages).

**Names.** A name is split into lower-case parts at separators (``_ - .
space``), and separately also at camel-case boundaries (``dbPass`` -> ``db``,
``pass``); it is secret when one part matches a row of
:data:`SECRET_NAMES` (the last part, for ``key``). Any value under a secret
name is replaced by :data:`SCRUBBED`, whatever its type (a dict or list
under ``credentials`` too); a string held under a secret name is also masked
wherever else it appears in the same structure (the same password given as
another, ordinary parameter) and in the text of an error it raised.

======================  ===============================================================  ============================================
row                     a part that is / contains                                        examples
======================  ===============================================================  ============================================
password                contains ``password``/``passwd``/``passphrase``/``passcode``     ``db_password``, ``passwd``, ``dbPassword``
pass                    is ``pass`` or ``dbpass``                                        ``DB_PASS``, ``pass``, ``dbpass``
pw                      is ``pw``/``dbpw``, or contains ``pwd``                          ``pw``, ``db_pw``, ``pwd``, ``mysql_pwd``
secret                  contains ``secret``                                              ``client_secret``, ``aws_secret_access_key``
token                   contains ``token`` (not ``tokeniz...``)                          ``hf_token``, ``accesstoken``, ``mytoken``
credential              contains ``credential``                                          ``credentials``, ``gcp_credential_file``
api/access/private key  contains ``apikey``/``accesskey``/``privatekey``/``secretkey``   ``apikey``, ``AccessKey`` is ``key`` below
auth                    is ``auth``, contains ``authoriz``/``authtoken``                 ``auth``, ``Authorization``, ``http_auth``
bearer                  contains ``bearer``                                              ``bearer``, ``bearer_value``
cookie                  contains ``cookie``                                              ``Cookie``, ``cookies``
session                 contains ``session``                                             ``sessionid``, ``session_key``
key                     the last part is ``key``                                         ``api_key``, ``AWS_KEY``, ``x-api-key``
======================  ===============================================================  ============================================

Not secret (tested): ``n_estimators``, ``max_depth``, ``passthrough``,
``subsample``, ``keyboard``, ``monkey_business``, ``tokenizer``, every
parameter of every registry model.

**Values.** In any string, wherever it is:

- a URL loses its userinfo: ``postgresql://bob:pw@db/ml`` -> ``postgresql://***@db/ml``;
- ``name=value`` pairs with a secret name lose their value: connection strings
  (``Server=x;Password=y`` -> ``Server=x;Password=***``, ``Pwd=``, ``AccountKey=``),
  URL queries (``?access_token=***``);
- ``Authorization:`` headers, ``Bearer xyz``, ``Token xyz``, ``Basic xyz``
  lose the credential (``Bearer ***``);
- known credential formats (AWS access key ids, GitHub, Slack and ``sk-``
  tokens, JSON web tokens, private key blocks), hexadecimal strings of 16+
  characters and opaque strings of 32+ characters, both mixing letters and
  digits, become :data:`SCRUBBED`.

Free text (:func:`scrub_text`, for error messages) also loses the value of
``name: value``, ``'name': value`` and ``"name": value`` pairs with a secret
name, and any of the ``values`` it is given (the secret values of the
parameters the message may quote).

Examples
--------
>>> from cvn_sklearn.scrubbing import looks_like_secret, scrub_structure
>>> [looks_like_secret(n, 1) for n in ("DB_PASS", "pwd", "pw", "dbpass", "Authorization", "sessionid")]
[True, True, True, True, True, True]
>>> [looks_like_secret(n, 1) for n in ("n_estimators", "max_depth", "passthrough", "subsample")]
[False, False, False, False]
>>> looks_like_secret("seed", "9f86d081884c7d65"), looks_like_secret("max_depth", 6)
(True, False)
>>> scrub_structure({"tracking_uri": "postgresql://bob:pw@db/ml", "conn_str": "Server=x;Password=y",
...                  "params": {"params": {"db_password": "hunter2"}}})
{'tracking_uri': 'postgresql://***@db/ml', 'conn_str': 'Server=x;Password=***', 'params': {'params': {'db_password': '***scrubbed***'}}}
"""

from __future__ import annotations

import copy
import functools
import inspect
import io
import re
import zipfile
from collections.abc import Mapping

__all__ = ["MASK", "SCRUBBED", "SECRET_NAMES", "kept_secrets", "looks_like_secret", "scrub", "scrub_structure",
           "scrub_text", "scrub_uri", "scrubbed_copy", "secret_name", "secret_strings", "secret_values"]

SCRUBBED = "***scrubbed***"
"""What a value under a secret name, or a whole credential, becomes."""
MASK = "***"
"""What the secret part of a longer string becomes (a URL's userinfo, a password in a connection string)."""

SECRET_NAMES = (
    ("password", r".*(passw(or)?d|passphrase|passcode).*"),
    ("pass", r"(db)?pass"),
    ("pw", r"(db)?pw|.*pwd.*"),
    ("secret", r".*secret.*"),
    ("token", r".*token(?!iz).*"),
    ("credential", r".*credential.*"),
    ("api/access/private key", r".*(api|access|private|secret)key.*"),
    ("auth", r"auth|.*authori[sz].*|.*authtoken.*"),
    ("bearer", r".*bearer.*"),
    ("cookie", r".*cookie.*"),
    ("session", r".*session.*"),
)
"""``(row, regular expression)``: a name is secret when one of its parts fully matches a row (or its last part is ``key``)."""

_NAME_PART = re.compile("|".join(f"(?:{pattern})" for _, pattern in SECRET_NAMES))
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")

_NAME = r"[A-Za-z_][\w.\-]*"
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_BARE = r"\{[^}]*\}|\[[^\]]*\]|[^\s,;&)}\]'\"]+"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@?#'\"]+@")
_ASSIGNMENT = re.compile(rf"(?<![\w.\-])({_NAME})(\s*=\s*)({_QUOTED}|{_BARE})")
_PAIR = re.compile(rf"(?<![\w.\-])({_NAME}|{_QUOTED})(\s*[:=]\s*)({_QUOTED}|{_BARE})")
_HEADER = re.compile(r"(?i)(\bauthorization\s*[:=]\s*)(?:(?:bearer|basic|token|digest)\s+)?(?!\*\*\*)[^\s,;'\"]+")
_SCHEME = re.compile(r"((?:\b[Bb]earer|\bBEARER|\bToken|\bBasic)\s+)(?!\*\*\*)[A-Za-z0-9+/=_.\-~]+")
_CREDENTIAL = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)"
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"  # GitHub tokens
    r"|sk-[A-Za-z0-9_\-]{16,}"  # OpenAI-style secret keys
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*",  # JSON web tokens
    re.DOTALL,
)
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_\-]{32,}|\b[0-9A-Fa-f]{16,}\b")


# -- the rule ---------------------------------------------------------------------------------
def secret_name(name) -> bool:
    """Whether ``name`` is secret-looking (see the module docstring's table).

    Examples
    --------
    >>> [secret_name(n) for n in ("dbPassword", "x-api-key", "conn_str", "tokenizer", "monkey_business")]
    [True, True, False, False, False]
    """
    return _secret_name(str(name))


@functools.lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    """:func:`secret_name` of a string; cached, as events and parameters repeat the same few names."""
    for text in (name, _CAMEL.sub("_", name)):  # as written, then split at camel-case boundaries too
        parts = [p.lower() for p in _SEPARATORS.split(text) if p]
        if parts and (parts[-1] == "key" or any(_NAME_PART.fullmatch(part) for part in parts)):
            return True
    return False


def looks_like_secret(name, value) -> bool:
    """Whether a parameter must not be logged as it is: its name is secret, or its value holds a credential.

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
    return secret_name(name) or (isinstance(value, str) and _mask_value(value) != value)


def _mask_value(text: str) -> str:
    """``text`` with the value rules applied (userinfo, ``name=value``, headers, credential formats).

    Short texts are cached (a pure function of ``text``): events repeat the same variant, symbol and model names.
    """
    return _mask_short(text) if len(text) <= 200 else _apply_value_rules(text)


@functools.lru_cache(maxsize=4096)
def _mask_short(text: str) -> str:
    return _apply_value_rules(text)


def _apply_value_rules(text: str) -> str:
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _HEADER.sub(rf"\1{MASK}", text)
    text = _SCHEME.sub(rf"\1{MASK}", text)
    text = _ASSIGNMENT.sub(_masked_pair, text)
    text = _CREDENTIAL.sub(SCRUBBED, text)
    return _OPAQUE.sub(_masked_opaque, text)


def _masked_pair(match) -> str:
    name, separator, value = match.groups()
    if not secret_name(name.strip("'\"")) or value.strip("'\"") in ("", MASK, SCRUBBED):
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') and value[-1:] == value[0] and len(value) > 1 else ""
    return f"{name}{separator}{quote}{MASK}{quote}"


def _masked_opaque(match) -> str:
    token = match.group(0)
    mixed = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
    return SCRUBBED if mixed else token


def scrub_text(message, values=()) -> str:
    """Free text (an error message) with every secret masked.

    The value rules of the module docstring, then ``name: value``,
    ``'name': value`` and ``"name": value`` pairs with a secret name, then
    every string of ``values`` (4 characters or more) wherever it appears.

    Parameters
    ----------
    message : str
    values : iterable of str, default=()
        Secret values the message may quote without their name, e.g.
        :func:`secret_strings` of the parameters that raised it.

    Returns
    -------
    str

    Examples
    --------
    >>> scrub_text("Got {'db_password': 'hunter2', 'depth': 3} instead.")
    "Got {'db_password': '***', 'depth': 3} instead."
    >>> scrub_text("cannot reach postgresql://bob:pw@db/ml: token=abc; Authorization: Bearer xyz")
    'cannot reach postgresql://***@db/ml: token=***; Authorization: ***'
    >>> scrub_text("could not convert string to float: 'hunter2'", values={"hunter2"})
    "could not convert string to float: '***'"
    """
    return _PAIR.sub(_masked_pair, _text(str(message), _known(values)))


def scrub_uri(uri: str) -> str:
    """A store's URI as shown to its user: the userinfo and secret-named ``name=value`` pairs masked, the path kept.

    For the command line's own output (where the runs went), where the path
    is what the user needs; logged values go through :func:`scrub_structure`.

    Examples
    --------
    >>> scrub_uri("postgresql://bob:pw@db/ml?sslmode=require&password=x")
    'postgresql://***@db/ml?sslmode=require&password=***'
    >>> scrub_uri("sqlite:////home/me/a_rather_long_project_folder_name_2024/mlflow.db")
    'sqlite:////home/me/a_rather_long_project_folder_name_2024/mlflow.db'
    """
    return _ASSIGNMENT.sub(_masked_pair, _USERINFO.sub(rf"\1{MASK}@", str(uri)))


# -- the walk -------------------------------------------------------------------------------
def scrub_structure(value, name=None):
    """``value`` as a plain, JSON-serialisable structure with every secret masked, at any depth.

    Mappings become dicts (keys as strings), lists and tuples lists,
    estimators ``{"estimator": class name, "params": {...}}`` with the
    parameters that differ from the class's defaults (``get_params(deep=False)``,
    nested estimators and ``(name, estimator)`` lists walked the same way),
    pydantic models their ``model_dump()``, numpy scalars and arrays Python
    numbers and lists, strings the value rules applied; anything else its
    ``repr`` with the value rules applied. Any value under a secret name is
    :data:`SCRUBBED`, and wherever else that value appears in ``value`` (a
    password also given as another parameter) it is masked too. Nothing is
    modified in place.

    Parameters
    ----------
    value : object
    name : str, default=None
        The name ``value`` is held under, if any.

    Returns
    -------
    object
        ``None``, bool, int, float, str, list or dict.

    Examples
    --------
    >>> from cvn_sklearn.registry import registry
    >>> scrub_structure({"base_models": [("x", registry["xgboost"](n_estimators=5, params={"dbpass": "s3cr3t"}))]})
    {'base_models': [['x', {'estimator': 'XGBoost', 'params': {'n_estimators': 5, 'params': {'dbpass': '***scrubbed***'}}}]]}
    """
    if hasattr(value, "model_dump") and not isinstance(value, type):
        value = value.model_dump()
    known = _known(secret_strings(value if name is None else {name: value}))
    return _walk(value, name, known)


def _known(values) -> list:
    """The secret strings to mask wherever they appear, longest first (a value already masked is not one)."""
    return sorted({v for v in values if isinstance(v, str) and len(v) >= 4 and v not in (SCRUBBED, MASK)},
                  key=len, reverse=True)


def _text(text: str, known) -> str:
    for value in known:
        text = text.replace(value, MASK)
    return _mask_value(text)


def _walk(value, name, known):
    if name is not None and secret_name(name):
        return SCRUBBED
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return _text(value, known)
    if isinstance(value, Mapping):
        return {_text(str(key), known): _walk(item, key, known) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_walk(item, None, known) for item in value]
    if _is_estimator(value):
        return {"estimator": type(value).__name__,
                "params": {key: _walk(item, key, known) for key, item in _changed_params(value).items()}}
    if hasattr(value, "model_dump") and not isinstance(value, type):
        return _walk(value.model_dump(), None, known)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return _walk(value.item(), None, known)
    if hasattr(value, "tolist") and not isinstance(value, type):
        return _walk(value.tolist(), None, known)
    if hasattr(value, "__fspath__"):
        return _text(str(value), known)
    return _text(repr(value), known)


def _changed_params(estimator) -> dict:
    """The estimator's own parameters that differ from its ``__init__`` defaults (what its ``repr`` shows)."""
    params = estimator.get_params(deep=False)
    try:
        defaults = {k: p.default for k, p in inspect.signature(type(estimator).__init__).parameters.items()}
    except (TypeError, ValueError):
        return params
    changed = {}
    for key, item in params.items():
        default = defaults.get(key, inspect.Parameter.empty)
        try:
            same = default is not inspect.Parameter.empty and (item is default or repr(item) == repr(default))
        except Exception:  # noqa: BLE001 - a repr that fails: show the parameter
            same = False
        if not same:
            changed[key] = item
    return changed


def scrub(params: Mapping) -> dict:
    """``params`` with secret-looking parameters masked, at any depth, keeping the types.

    The walk and the rule of :func:`scrub_structure`, but the result keeps the
    original objects where nothing needed masking: mappings, lists and tuples
    stay what they were, and estimators are replaced by scrubbed copies
    (:func:`scrubbed_copy`) rather than by plain structures.

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
    >>> scrub({"servers": [{"host": "db", "password": "hunter2"}], "dsn": "Server=db;Pwd=hunter2"})
    {'servers': [{'host': 'db', 'password': '***scrubbed***'}], 'dsn': 'Server=db;Pwd=***'}
    """
    known = _known(secret_strings(params))
    return {name: _scrub_value(name, value, known) for name, value in params.items()}


def _scrub_value(name, value, known=()):
    if name is not None and secret_name(name):
        return SCRUBBED
    if isinstance(value, str):
        masked = _text(value, known)
        return value if masked == value else masked
    if isinstance(value, Mapping):
        cleaned = {key: _scrub_value(key, item, known) for key, item in value.items()}
        return value if all(cleaned[k] is value[k] for k in value) else cleaned
    if isinstance(value, (list, tuple)):
        cleaned = [_scrub_value(None, item, known) for item in value]
        return value if all(c is v for c, v in zip(cleaned, value)) else type(value)(cleaned)
    if _is_estimator(value):
        return scrubbed_copy(value)
    return value


def _is_estimator(value) -> bool:
    return hasattr(value, "get_params") and not isinstance(value, type)


def reachable_estimators(root) -> list:
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


def _secret_params(estimator, known=()) -> dict:
    """The estimator's own (not nested) parameters whose name or value holds a secret, scrubbed."""
    params = estimator.get_params(deep=False)
    cleaned = {name: _scrub_value(name, value, known) for name, value in params.items()
               if not _is_estimator(value)}
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
    'token-***scrubbed***'
    """
    known = _known(set().union(*(secret_strings(est.get_params(deep=False)) for est in reachable_estimators(estimator))))
    if not any(_secret_params(est, known) for est in reachable_estimators(estimator)):
        return estimator
    estimator = copy.deepcopy(estimator)
    for est in reachable_estimators(estimator):
        for name, value in _secret_params(est, known).items():
            est.set_params(**{name: value})
    return estimator


def secret_strings(value, secret: bool = False) -> set:
    """Every string (4+ characters) of ``value`` held under a secret name, at any depth.

    Walks what :func:`scrub_structure` walks (mappings, sequences, estimators'
    parameters). Used to mask values that a message quotes without their name.

    Examples
    --------
    >>> sorted(secret_strings({"depth": 3, "params": {"db_password": "hunter2", "tags": ["a"]}, "auth": ["tok1", "x"]}))
    ['hunter2', 'tok1']
    """
    if isinstance(value, str):
        return {value} if secret and len(value) >= 4 else set()
    if isinstance(value, Mapping):
        return set().union(*(secret_strings(v, secret or secret_name(k)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return set().union(*(secret_strings(v, secret) for v in value))
    if _is_estimator(value):
        return secret_strings(value.get_params(deep=False), secret)
    return set()


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
    for est in reachable_estimators(estimator):
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


def kept_secrets(estimator, content: bytes) -> list:
    """Names of ``estimator``'s secret values (:func:`secret_values`) still found in ``content``, a skops file.

    The file is searched member by member (a skops file is a zip: its members
    may be compressed), so a value kept by a fitted model is found.

    Examples
    --------
    >>> import skops.io
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier(constant="hunter2", strategy="constant").set_params(constant="db_password=hunter2")
    >>> kept_secrets(model, skops.io.dumps(model)), kept_secrets(model, skops.io.dumps(scrubbed_copy(model)))
    (['constant'], [])
    """
    values = secret_values(estimator)
    if not values:
        return []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = [archive.read(name) for name in archive.namelist()]
    return sorted({name for name, value in values.items() if any(value.encode() in m for m in members)})
