"""Name -> scorer class. A scorer module registers itself with `@register("name")`.

Which scorers run when none are named is declared here too, per task (`defaults_for`):
the CAOS benchmark runs the six scorers of the paper's Table 4, the multi-label classifiers the
four of its section 4, single-label classifiers every registered scorer but those
`left_out_by_default` names, with the reason a report records.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from segood.errors import SegoodError

S = TypeVar("S", bound=type)

_SCORERS: dict[str, type] = {}

_DEFAULTS: dict[str, tuple[str, ...]] = {
    "caos": ("msp", "branch", "background", "mc_dropout", "ae", "maxlogit"),
    "multilabel": ("multilabel_maxlogit", "logitavg", "multilabel_msp", "mc_dropout"),
}
_GRADIENT = "gradient scorer (extra forward/backward passes per batch); name it to run it"
_LEFT_OUT: dict[str, dict[str, str]] = {
    "classification": {
        "background": "its 'class 0 = background' has no meaning for a classifier",
        "ae": "needs an autoencoder's reconstruction of the image",
        **dict.fromkeys(("odin", "pro_msp", "pro_entropy", "pro_temp_msp", "pro_gen"), _GRADIENT),
    },
}
TASKS = ("caos", "multilabel", "classification")


def register(name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[S], S]:
    """Class decorator: make a scorer class available as `get(name)` (and under each alias)."""

    def decorate(cls: S) -> S:
        for key in (name, *aliases):
            if key in _SCORERS and _SCORERS[key] is not cls:
                raise RuntimeError(f"scorer name {key!r} is registered twice")
            _SCORERS[key] = cls
        cls.name = name
        return cls

    return decorate


def available(aliases: bool = True) -> list[str]:
    """Every registered scorer name, sorted; with `aliases=False` each scorer once, by the name
    it was registered under."""
    return sorted(k for k, cls in _SCORERS.items() if aliases or cls.name == k)


def defaults_for(task: str) -> list[str]:
    """The scorers a task ("caos", "multilabel", "classification") runs when none are named, in
    report order; the caller still drops those its model's outputs cannot feed."""
    if task not in TASKS:
        raise ValueError(f"task {task!r} must be one of {TASKS}")
    if task in _DEFAULTS:
        return list(_DEFAULTS[task])
    import segood.scorers  # noqa: F401 (every scorer module registers itself on import)

    return [n for n in available(aliases=False) if n not in _LEFT_OUT[task]]


def left_out_by_default(task: str) -> dict[str, str]:
    """Registered scorers a task runs only when named: name -> why."""
    if task not in TASKS:
        raise ValueError(f"task {task!r} must be one of {TASKS}")
    return dict(_LEFT_OUT.get(task, {}))


def get(name: str, **kwargs):
    """A new scorer instance for a registered name, configured by `kwargs`."""
    try:
        cls = _SCORERS[name]
    except KeyError:
        raise SegoodError(f"unknown scorer {name!r}; available: {', '.join(available())}") from None
    _check_setting_names(name, cls, kwargs)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise SegoodError(f"scorer {name!r}: bad settings {kwargs}: {err}") from None


def settings_of(cls: type) -> list[str]:
    """The names of a scorer class's settings (its constructor's keyword arguments)."""
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _check_setting_names(name: str, cls: type, kwargs: dict[str, Any]) -> None:
    params = inspect.signature(cls).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return  # takes any setting
    valid = settings_of(cls)
    for key in kwargs:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            options = ", ".join(valid) if valid else "none"
            raise SegoodError(
                f"scorer {name!r} has no setting {key!r}{hint}; its settings: {options}"
            )


def parse_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """Command-line scorer settings: ['energy.temperature=2', ...] -> {'energy': {...}}."""
    import ast

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        scorer, dot, option = key.partition(".")
        if not (eq and dot and scorer and option):
            raise SegoodError(
                f"bad --set {item!r}; write SCORER.OPTION=VALUE (e.g. energy.temperature=2)"
            )
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out.setdefault(scorer, {})[option] = value
    return out
