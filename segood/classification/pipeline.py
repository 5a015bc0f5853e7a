"""Scoring classifier outputs with the segood scorer registry, then the metrics.

A classifier's logits (N, C) are scored as (N, C, 1, 1) images: each scorer here is the very
object `segood.scorers.get(name)` returns, called on the outputs it `requires`, so
classification and segmentation share every formula. Scorers needing more than logits are
used when the outputs exist (`dropout_logits` (T, N, C) for MC dropout, `confidence` for the
branch); fitted scorers (SML, KL matching) are fitted on a separate in-distribution set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from segood import scorers as registry
from segood.classification.conventions import cls_metrics
from segood.classification.logits_io import OutputSet
from segood.errors import SegoodError
from segood.scorers import FittedScorer, Scorer


def canonical_names() -> list[str]:
    """Every registered scorer once (its own name, not its aliases), sorted."""
    return registry.available(aliases=False)


@dataclass
class Selection:
    scorers: dict[str, Scorer]
    skipped: dict[str, str]  # name -> why it was not run


def select_scorers(
    names: list[str] | None,
    outputs: set[str],
    can_fit: bool,
    settings: dict[str, dict[str, Any]] | None = None,
) -> Selection:
    """The scorers to run. `names` None = every registered scorer the outputs allow.

    A scorer asked for by name that cannot run raises a SegoodError; a default one is skipped
    with the reason recorded (so the results say why a column is missing).
    """
    settings = settings or {}
    unknown = set(settings) - set(registry.available())
    if unknown:
        raise SegoodError(f"settings given for unknown scorers {sorted(unknown)}")
    explicit = names is not None
    left_out = registry.left_out_by_default("classification")
    chosen, skipped = {}, {}
    for name in names if explicit else canonical_names():
        scorer = registry.get(name, **settings.get(name, {}))
        why = None
        if not explicit and name in left_out:
            why = left_out[name]
        elif missing := [k for k in scorer.requires if k not in outputs]:
            why = f"needs model outputs {missing}"
        elif isinstance(scorer, FittedScorer) and not can_fit:
            why = "is fitted on in-distribution data: give a fit set (--fit)"
        if why is None:
            chosen[name] = scorer
        elif explicit:
            raise SegoodError(f"scorer {name!r} cannot run here: it {why}")
        else:
            skipped[name] = why
    if not chosen and names != []:  # [] = the caller brings its own detectors
        raise SegoodError("no scorer can run on these outputs; pass --scorers explicitly")
    return Selection(chosen, skipped)


def scorer_inputs(scorer: Scorer, outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs a scorer requires, in its layout ((N,) confidence becomes (N, 1))."""
    inputs = {}
    for key in scorer.requires:
        value = outputs[key]
        if key == "confidence" and np.ndim(value) == 1:
            value = np.asarray(value)[:, None]
        inputs[key] = value
    return inputs


def fit_scorers(selection: Selection, fit: OutputSet | None) -> None:
    """Fit every fitted scorer on the in-distribution fit set (e.g. training or val logits)."""
    for scorer in selection.scorers.values():
        if isinstance(scorer, FittedScorer):
            scorer.update(**scorer_inputs(scorer, fit.outputs))


def score(scorer: Scorer, outputs: dict[str, Any]) -> np.ndarray:
    """(N,) float scores of one output set; higher = more anomalous."""
    return np.asarray(scorer(**scorer_inputs(scorer, outputs)), dtype=np.float64)


def scorer_settings(selection: Selection) -> dict[str, Any]:
    """name -> {class, settings, requires} for the results file."""
    out = {}
    for name, scorer in selection.scorers.items():
        public = {k: v for k, v in vars(scorer).items() if not k.startswith("_")}
        out[name] = {
            "class": type(scorer).__name__,
            "settings": {k: v for k, v in public.items() if isinstance(v, int | float | str)},
            "requires": list(scorer.requires),
        }
    return out


def accuracy(outputs: OutputSet) -> float | None:
    """Top-1 accuracy of the in-distribution logits when labels are known."""
    if outputs.labels is None:
        return None
    return float((outputs.logits.argmax(axis=1) == outputs.labels).mean())


def evaluate_sets(
    id_set: OutputSet,
    ood_sets: list[OutputSet],
    selection: Selection,
    convention: str = "segood",
    extra_scores: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] | None = None,
) -> tuple[dict, dict]:
    """(metrics, curves): metrics[ood][scorer] = {fpr95, auroc, aupr, ...}; curves for plots.

    `extra_scores` adds detectors outside the registry (iForest / LOF on features) as
    name -> (id scores (N,), {ood name: scores}).
    """
    id_scores = {n: score(s, id_set.outputs) for n, s in selection.scorers.items()}
    metrics: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    for ood in ood_sets:
        per_scorer, per_curve = {}, {}
        columns = {n: (id_scores[n], score(s, ood.outputs)) for n, s in selection.scorers.items()}
        for name, (ids, by_set) in (extra_scores or {}).items():
            columns[name] = (ids, by_set[ood.name])
        for name, (ids, oods) in columns.items():
            scores = np.concatenate([ids, oods])
            is_ood = np.r_[np.zeros(len(ids), bool), np.ones(len(oods), bool)]
            per_scorer[name] = cls_metrics(scores, is_ood, convention)
            per_curve[name] = (scores, is_ood, None)
        metrics[ood.name], curves[ood.name] = per_scorer, per_curve
    return metrics, curves


def data_sizes(id_set: OutputSet, ood_sets: list[OutputSet], fit: OutputSet | None) -> dict:
    sizes = {
        "in_distribution": {"name": id_set.name, "samples": id_set.size},
        "classes": id_set.num_classes,
        "ood": {o.name: o.size for o in ood_sets},
    }
    if fit is not None:
        sizes["fit"] = {"name": fit.name, "samples": fit.size}
    if "dropout_logits" in id_set.outputs:
        sizes["mc_dropout_passes"] = int(id_set.outputs["dropout_logits"].shape[0])
    return sizes


def run_ood_benchmark(
    protocol: str,
    id_set: OutputSet,
    ood_sets: list[OutputSet],
    *,
    fit: OutputSet | None = None,
    scorer_names: list[str] | None = None,
    scorer_options: dict[str, dict[str, Any]] | None = None,
    convention: str = "segood",
    extra_scores: dict | None = None,
    extra_run: dict[str, Any] | None = None,
    out: str | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Every selected scorer on ID vs each OOD set; returns {metrics, run, table, curves}.

    With `out`, writes the reports (results.json maps OOD set -> scorer -> metrics).
    """
    from segood.classification.logits_io import check_same_classes
    from segood.classification.report import header_lines, ood_table, write_classification_reports

    if not ood_sets:
        raise SegoodError("no OOD set given; pass at least one (--ood NAME=PATH)")
    names = [o.name for o in ood_sets]
    if len(set(names)) != len(names):
        raise SegoodError(f"OOD set names must be unique, got {names}; name them NAME=PATH")
    check_same_classes([id_set, *ood_sets, *([fit] if fit else [])])
    available = set(id_set.outputs)
    for o in ood_sets:
        available &= set(o.outputs)
    selection = select_scorers(scorer_names, available, fit is not None, scorer_options)
    if fit is not None:
        fit_scorers(selection, fit)
    metrics, curves = evaluate_sets(id_set, ood_sets, selection, convention, extra_scores)
    run = {
        "protocol": protocol,
        "convention": convention,
        "positive_class": "OOD (higher score = more anomalous)",
        "fpr_rule": {"segood": "first", "openood": "openood", "pytorch-ood": "first"}[convention],
        "scorers": scorer_settings(selection),
        "skipped_scorers": selection.skipped,
        "data": data_sizes(id_set, ood_sets, fit),
        "id_accuracy": accuracy(id_set),
        **(extra_run or {}),
    }
    table = ood_table(metrics, header_lines(run))
    if out is not None:
        write_classification_reports(out, metrics, run, table, curves=curves if plots else None)
    return {"metrics": metrics, "run": run, "table": table, "curves": curves}
