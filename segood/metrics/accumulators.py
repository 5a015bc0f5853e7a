"""Accumulators over a dataset: the per-image CAOS protocol and exact pooled pixel metrics.

Both keep a state that adds up across processes (`merge`) and serialises (`state_dict`), so a
sharded or resumed evaluation ends with exactly the numbers of one uninterrupted run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.metrics.ood import as_flat_arrays, check_rules
from segood.metrics.ranking import RankCounts, all_metrics, rank_counts, rank_counts_sorted

METRIC_KEYS = ("auroc", "aupr", "fpr95")


class PerImageAccumulator:
    """The CAOS protocol: metrics per image, averaged over images (unweighted mean).

    Images without an anomalous pixel, or with only anomalous pixels, are skipped and counted,
    as in the reference. Defaults are the reference's rules (FPR95 "nearest", AP "step").
    Per-image values are kept by image name, so merging shards or re-adding a finished image
    on resume is exact and order-independent (the mean is an exact `math.fsum`).
    """

    def __init__(self, *, fpr_rule: str = "nearest", ap_rule: str = "step") -> None:
        check_rules(fpr_rule, ap_rule)
        self.fpr_rule, self.ap_rule = fpr_rule, ap_rule
        self.per_image: dict[str, dict[str, float]] = {}
        self.skipped: dict[str, str] = {}

    def add(self, name: str, scores: Any, is_anomaly: Any, ignore: Any = None) -> dict | None:
        """Score one image; returns its metrics, or None if it is skipped."""
        s, y = as_flat_arrays(scores, is_anomaly, ignore)
        n_pos = int(y.sum())
        if n_pos == 0 or n_pos == y.size:
            self.skipped[name] = "no anomaly pixel" if n_pos == 0 else "only anomaly pixels"
            self.per_image.pop(name, None)
            return None
        values = all_metrics(rank_counts(s, y), self.fpr_rule, self.ap_rule)
        self.per_image[name] = values
        self.skipped.pop(name, None)
        return values

    def merge(self, other: PerImageAccumulator) -> None:
        if (other.fpr_rule, other.ap_rule) != (self.fpr_rule, self.ap_rule):
            raise SegoodError("cannot merge accumulators that use different metric rules")
        self.per_image.update(other.per_image)
        self.skipped.update(other.skipped)

    def compute(self) -> dict[str, Any]:
        """Mean metrics over the used images, with the counts of used and skipped images."""
        if not self.per_image:
            raise SegoodError(
                f"no image with both anomalous and normal pixels ({len(self.skipped)} skipped): "
                "the per-image protocol needs anomalies in the evaluated split"
            )
        n = len(self.per_image)
        ordered = [self.per_image[k] for k in sorted(self.per_image)]
        result: dict[str, Any] = {
            key: math.fsum(v[key] for v in ordered) / n for key in METRIC_KEYS
        }
        reasons = sorted(set(self.skipped.values()))
        result.update(
            images_used=n,
            images_skipped=len(self.skipped),
            skipped_by_reason={r: sum(v == r for v in self.skipped.values()) for r in reasons},
        )
        return result

    def state_dict(self) -> dict[str, Any]:
        return {
            "fpr_rule": self.fpr_rule,
            "ap_rule": self.ap_rule,
            "per_image": dict(self.per_image),
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> PerImageAccumulator:
        acc = cls(fpr_rule=state["fpr_rule"], ap_rule=state["ap_rule"])
        acc.per_image = {k: dict(v) for k, v in state["per_image"].items()}
        acc.skipped = dict(state["skipped"])
        return acc


class _SortedCounts:
    """A multiset of float values kept as one sorted run of (distinct value, count).

    Added values wait in a buffer of raw values; when it holds `buffer_size` values it is
    compacted with one `np.unique` and merged into the run. Memory: 8 bytes per distinct
    float32 value (uint32 counts; 12 with float64, or once a count could pass 2**32), plus the
    buffer, plus one copy of the run while merging. It grows with the number of distinct score
    values, never with the number of pixels.
    """

    def __init__(self, buffer_size: int = 1 << 25) -> None:
        self.buffer_size = buffer_size
        self.keys = np.empty(0, np.float32)
        self.counts = np.empty(0, np.uint32)
        self.total = 0
        self._buffer: list[np.ndarray] = []
        self._buffered = 0

    def add(self, values: np.ndarray) -> None:
        if values.size:
            self._buffer.append(values)
            self._buffered += values.size
            if self._buffered >= self.buffer_size:
                self._compact()

    def add_run(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add distinct sorted `keys` with their `counts`."""
        self._merge(keys, counts)

    def collapse(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct values ascending, counts) of everything added."""
        self._compact()
        return self.keys, self.counts

    def _compact(self) -> None:
        if self._buffer:
            values = np.concatenate(self._buffer)
            self._buffer, self._buffered = [], 0
            keys, counts = np.unique(values, return_counts=True)
            del values
            self._merge(keys, counts)

    def _merge(self, keys: np.ndarray, counts: np.ndarray) -> None:
        self.total += int(counts.sum())
        count_type = np.uint32 if self.total < 2**32 else np.int64
        key_type = np.result_type(self.keys, keys) if len(self.keys) else keys.dtype
        self.keys, self.counts = _merge_runs(
            self.keys.astype(key_type, copy=False),
            self.counts.astype(count_type, copy=False),
            keys.astype(key_type, copy=False),
            counts.astype(count_type, copy=False),
        )

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.counts.nbytes + sum(b.nbytes for b in self._buffer)


def _merge_runs(
    ka: np.ndarray, ca: np.ndarray, kb: np.ndarray, cb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted runs of distinct values, adding the counts of shared values."""
    if not len(ka):
        return kb, cb
    at = np.searchsorted(ka, kb)  # (len(kb),) insertion points
    shared = at < len(ka)
    shared[shared] = ka[at[shared]] == kb[shared]
    ca = ca.copy()
    ca[at[shared]] += cb[shared]  # distinct values -> distinct positions
    new = ~shared
    return np.insert(ka, at[new], kb[new]), np.insert(ca, at[new], cb[new])


class PooledAccumulator:
    """Exact metrics over all pixels of a dataset, with memory bounded by distinct values.

    Keeps the distinct score values of anomalous and of normal pixels with their counts
    (`_SortedCounts`), never the pixels themselves, plus a buffer of `buffer_size` raw values
    per class (128 MiB of float32 by default). A float32 score takes one of at most 2**32
    values, and a real score map far fewer; tools/benchmarks/bench_metrics.py measures the
    memory on a StreetHazards-sized stream (1500 maps of 720x1280 = 1.38 G pixels).
    """

    def __init__(
        self, *, fpr_rule: str = "nearest", ap_rule: str = "step", buffer_size: int = 1 << 25
    ) -> None:
        check_rules(fpr_rule, ap_rule)
        self.fpr_rule, self.ap_rule = fpr_rule, ap_rule
        self.pos, self.neg = _SortedCounts(buffer_size), _SortedCounts(buffer_size)

    def add(self, scores: Any, is_anomaly: Any, ignore: Any = None) -> None:
        s, y = as_flat_arrays(scores, is_anomaly, ignore)
        self.pos.add(s[y])
        self.neg.add(s[~y])

    def merge(self, other: PooledAccumulator) -> None:
        for mine, theirs in ((self.pos, other.pos), (self.neg, other.neg)):
            mine.add_run(*theirs.collapse())

    def rank_counts(self) -> RankCounts:
        pos_keys, pos_counts = self.pos.collapse()
        neg_keys, neg_counts = self.neg.collapse()
        if not len(pos_keys) or not len(neg_keys):
            missing = "anomalous" if not len(pos_keys) else "normal"
            raise SegoodError(f"pooled metrics need both classes; no {missing} pixel was added")
        neg_cum = np.concatenate([[0], np.cumsum(neg_counts, dtype=np.int64)])
        return rank_counts_sorted(pos_keys, pos_counts, neg_keys, neg_cum)

    def compute(self) -> dict[str, Any]:
        rc = self.rank_counts()
        return {**all_metrics(rc, self.fpr_rule, self.ap_rule), "pixels": rc.n_pos + rc.n_neg}

    @property
    def nbytes(self) -> int:
        """Bytes held by the state."""
        return self.pos.nbytes + self.neg.nbytes

    def state_dict(self) -> dict[str, Any]:
        pos_keys, pos_counts = self.pos.collapse()
        neg_keys, neg_counts = self.neg.collapse()
        return {
            "fpr_rule": self.fpr_rule,
            "ap_rule": self.ap_rule,
            "pos_keys": pos_keys,
            "pos_counts": pos_counts,
            "neg_keys": neg_keys,
            "neg_counts": neg_counts,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> PooledAccumulator:
        acc = cls(fpr_rule=state["fpr_rule"], ap_rule=state["ap_rule"])
        for part, key in ((acc.pos, "pos"), (acc.neg, "neg")):
            keys = np.asarray(state[f"{key}_keys"])
            if keys.size:
                part.add_run(keys, np.asarray(state[f"{key}_counts"]))
        return acc
