"""`EvalOptions`: one evaluation run as data, for a model and for saved predictions alike.

tools/eval_caos.py turns its command line into one of these; `api.evaluate` (a model:
`config` + `checkpoint`) and `predictions_api.evaluate_predictions` (`predictions`) build the
per-dataset `runner.EvalJob`s from it. `dataset` / `data_root` / `split` name one dataset or
several (lists, in the same order); `protocol` None takes each dataset's leaderboard protocol.
Messages name these fields through `option()`, never a command-line flag.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from segood.evaluation.benchmarks import DatasetSpec, dataset_specs


def as_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """A value given once or as a list, as a list (None -> [])."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass
class EvalOptions:
    """What to evaluate, on which data, how, and where the reports go."""

    # the source of the score maps: a model, or saved predictions
    config: str | None = None
    checkpoint: str | None = None
    ae_checkpoint: str | None = None
    branch_checkpoint: str | None = None
    predictions: list[str] | None = None  # ["DIR"] or ["NAME=DIR", ...]
    # the data: one dataset or several (default for a model: the config's `evaluation`)
    dataset: str | list[str] | None = None
    data_root: str | list[str] | None = None
    split: str | list[str] | None = None  # None: each dataset's leaderboard split
    # scorers and inference
    scorers: list[str] | None = None  # None = the CAOS scorers that can run (+ extra)
    extra_scorers: list[str] = field(default_factory=list)
    scorer_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> kwargs
    scales: tuple[int, ...] | None = None  # None = the config's, else the reference's
    full_resolution: bool | None = None
    average: str = "logits"
    mc_passes: int = 8
    fit_images: int | None = None
    exclude_background: bool = False  # the reference's --exclude_back
    device: str | None = None
    cfg_options: dict[str, Any] | None = None
    # metrics and outputs
    protocol: str | None = None  # None = each dataset's leaderboard protocol
    component_threshold: float | None = None
    out: str = "outputs/eval"
    resume: bool = False
    max_images: int | None = None
    panels: int = 4
    progress: bool = True
    save_scores: bool = False
    save_dtype: str = "float16"
    save_format: str = "npz"

    def dataset_specs(self) -> list[DatasetSpec]:
        """The datasets named by `dataset` / `data_root` / `split`."""
        return dataset_specs(as_list(self.dataset), as_list(self.data_root), as_list(self.split))


# How messages name an option. The library speaks of `EvalOptions` fields (`resume`,
# `scorers=['msp']`); a command-line front end maps them to its flags for the duration of a
# call (`naming_options_as`), so its users read `--resume`, `--scorers msp`.
_FLAGS: dict[str, str] = {}


@contextmanager
def naming_options_as(flags: dict[str, str]) -> Iterator[None]:
    """Within the block, `option()` names the fields in `flags` by their flag ({field: flag})."""
    global _FLAGS
    before, _FLAGS = _FLAGS, dict(flags)
    try:
        yield
    finally:
        _FLAGS = before


def option(name: str, value: Any = None) -> str:
    """An `EvalOptions` field (with a value) as a message names it: `name` / `name=value`, or
    the front end's flag (`--flag` / `--flag value ...`) inside `naming_options_as`."""
    flag = _FLAGS.get(name)
    if flag is None:
        return f"`{name}`" if value is None else f"{name}={value!r}"
    if value is None:
        return flag
    if isinstance(value, dict):  # scorer_options: {scorer: {option: value}}
        words = [f"{s}.{k}={v}" for s, kw in value.items() for k, v in kw.items()]
    elif isinstance(value, list | tuple):
        words = [str(v) for v in value]
    else:
        words = [str(value)]
    return " ".join([flag, *words])
