import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segood.errors import SegoodError
from segood.metrics import PerImageAccumulator, PooledAccumulator, ood_metrics
from tests.metrics.reference import sklearn_metrics


def make_images(seed, n=6, shape=(20, 30), ties=True):
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        scores = rng.normal(size=shape).astype(np.float32)
        labels = rng.random(shape) < rng.choice([0.0, 0.05, 0.3, 1.0], p=[0.15, 0.4, 0.3, 0.15])
        scores[labels] += 1.0
        if ties:
            scores = np.round(scores, 1)
        images.append((f"img{i}", scores, labels))
    return images


def test_per_image_is_mean_of_sklearn_per_image_and_counts_skips():
    images = make_images(0, n=12)
    acc = PerImageAccumulator()
    for name, s, y in images:
        acc.add(name, s, y)
    result = acc.compute()
    used = [(s, y) for _, s, y in images if 0 < y.sum() < y.size]
    for key in ("auroc", "aupr", "fpr95"):
        want = np.mean([sklearn_metrics(y, s)[key] for s, y in used])
        assert result[key] == pytest.approx(want, abs=1e-12)
    assert result["images_used"] == len(used)
    no_anomaly = sum(y.sum() == 0 for _, _, y in images)
    only_anomaly = sum(y.all() for _, _, y in images)
    assert result["images_skipped"] == no_anomaly + only_anomaly
    assert result["skipped_by_reason"].get("no anomaly pixel", 0) == no_anomaly
    assert result["skipped_by_reason"].get("only anomaly pixels", 0) == only_anomaly


def test_per_image_merge_and_readd_are_exact():
    images = make_images(1, n=10)
    whole = PerImageAccumulator()
    shards = [PerImageAccumulator(), PerImageAccumulator()]
    for i, (name, s, y) in enumerate(images):
        whole.add(name, s, y)
        shards[i % 2].add(name, s, y)
    shards[1].add(*images[3])  # an image done twice (resume) counts once
    merged = PerImageAccumulator.from_state_dict(pickle.loads(pickle.dumps(shards[1].state_dict())))
    merged.merge(shards[0])
    assert merged.compute() == whole.compute()


def test_per_image_errors():
    acc = PerImageAccumulator()
    acc.add("a", np.zeros(4), np.zeros(4, bool))
    with pytest.raises(SegoodError, match="1 skipped"):
        acc.compute()
    with pytest.raises(SegoodError, match="different metric rules"):
        acc.merge(PerImageAccumulator(fpr_rule="first"))


@pytest.mark.parametrize(("fpr_rule", "ap_rule"), [("nearest", "step"), ("first", "trapezoid")])
def test_pooled_equals_metrics_on_all_pixels(fpr_rule, ap_rule):
    images = make_images(2, n=8)
    acc = PooledAccumulator(fpr_rule=fpr_rule, ap_rule=ap_rule)
    for _, s, y in images:
        acc.add(s, y)
    all_s = np.concatenate([s.ravel() for _, s, _ in images])
    all_y = np.concatenate([y.ravel() for _, _, y in images])
    result = acc.compute()
    want = sklearn_metrics(all_y, all_s, fpr_rule, ap_rule)
    for key, value in want.items():
        assert result[key] == pytest.approx(value, abs=1e-9)
    assert result["pixels"] == all_s.size


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 9), st.permutations(range(6)))
def test_pooled_is_independent_of_order_and_sharding(seed, n_shards, order):
    images = make_images(seed, n=6, shape=(7, 9))
    if not any(y.any() for *_, y in images) or all(y.all() for *_, y in images):
        return
    whole = PooledAccumulator()
    for _, s, y in images:
        whole.add(s, y)
    shards = [PooledAccumulator(buffer_size=100) for _ in range(n_shards)]
    for i, k in enumerate(order):
        shards[i % n_shards].add(images[k][1], images[k][2])
    merged = PooledAccumulator.from_state_dict(shards[0].state_dict())
    for shard in shards[1:]:
        merged.merge(shard)
    assert merged.compute() == whole.compute()


def test_pooled_memory_counts_distinct_values_not_pixels():
    acc = PooledAccumulator(buffer_size=5000)
    rng = np.random.default_rng(5)
    for _ in range(20):
        scores = rng.integers(0, 256, size=(100, 100)).astype(np.float32)  # 256 distinct
        acc.add(scores, rng.random((100, 100)) < 0.1)
    assert acc.compute()["pixels"] == 20 * 100 * 100
    assert acc.nbytes <= 2 * 256 * (4 + 4)  # float32 value + uint32 count per distinct value


def test_pooled_needs_both_classes():
    acc = PooledAccumulator()
    acc.add(np.arange(4.0), np.zeros(4, bool))
    with pytest.raises(SegoodError, match="no anomalous"):
        acc.compute()


def test_pooled_single_image_equals_ood_metrics():
    _, s, y = make_images(6, n=1, shape=(50, 60))[0]
    y[0, 0], y[0, 1] = True, False
    acc = PooledAccumulator()
    acc.add(s, y)
    result = acc.compute()
    assert {k: result[k] for k in ("auroc", "aupr", "fpr95")} == ood_metrics(s, y)
