import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segood.errors import SegoodError
from segood.metrics import ood_metrics
from tests.metrics.reference import caos_reference_fpr95, sklearn_metrics

RULES = [(f, a) for f in ("nearest", "first") for a in ("step", "trapezoid")]


def assert_same(got, want, tol=1e-9):
    assert set(got) == {"auroc", "aupr", "fpr95"}
    for key in want:
        assert abs(got[key] - want[key]) <= tol, (key, got[key], want[key])


@st.composite
def labelled_scores(draw):
    n = draw(st.integers(2, 400))
    # few distinct levels -> many ties; or continuous values
    levels = draw(st.sampled_from([2, 3, 10, 1000, None]))
    if levels is None:
        scores = draw(arrays(np.float64, n, elements=st.floats(-1e6, 1e6, allow_nan=False)))
    else:
        scores = draw(arrays(np.int64, n, elements=st.integers(0, levels - 1))).astype(np.float32)
    labels = draw(arrays(np.bool_, n))
    if labels.all() or not labels.any():
        labels[0] = not labels[0]
    return scores, labels


@settings(max_examples=300, deadline=None)
@given(labelled_scores(), st.sampled_from(RULES))
def test_matches_sklearn_and_reference_with_ties(data, rules):
    scores, labels = data
    fpr_rule, ap_rule = rules
    got = ood_metrics(scores, labels, fpr_rule=fpr_rule, ap_rule=ap_rule)
    assert_same(got, sklearn_metrics(labels, scores, fpr_rule, ap_rule))


@pytest.mark.parametrize(("fpr_rule", "ap_rule"), RULES)
def test_full_size_map_matches_references(fpr_rule, ap_rule):
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(180, 320)).astype(np.float32)
    labels = rng.random((180, 320)) < 0.01
    scores[labels] += 1.5
    scores = np.round(scores, 2)  # ties between positives and negatives
    got = ood_metrics(scores, labels, fpr_rule=fpr_rule, ap_rule=ap_rule)
    assert_same(got, sklearn_metrics(labels, scores, fpr_rule, ap_rule))


def test_large_input_uses_parallel_sort_and_stays_exact():
    rng = np.random.default_rng(2)
    scores = rng.random(400_000).astype(np.float32)
    labels = rng.random(400_000) < 0.02
    assert_same(ood_metrics(scores, labels), sklearn_metrics(labels, scores))


def test_hand_computed_example():
    # scores 0.1 0.4 0.35 0.8, labels 0 0 1 1 (sklearn's doc example): AUROC 0.75, AP 0.8333
    scores, labels = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])
    got = ood_metrics(scores, labels)
    assert got["auroc"] == pytest.approx(0.75, abs=1e-12)
    assert got["aupr"] == pytest.approx((0.5 * 1.0) + (0.5 * 2 / 3), abs=1e-12)
    # recall points from the lowest full-recall threshold: 0.35 (R=1, FP=1), 0.4 (R=.5, FP=1)
    # 0.8 (R=.5, FP=0): nearest to 0.95 is R=1 -> FPR 1/2
    assert got["fpr95"] == pytest.approx(0.5)


def test_nearest_rule_may_pick_recall_below_095():
    # 10 positives: recall 0.9 is exactly as close to 0.95 as 1.0 in exact arithmetic, but in
    # floating point |0.9 - 0.95| < |1.0 - 0.95|, so the reference picks recall 0.9.
    pos = np.arange(10, 20, dtype=np.float64)
    neg = np.array([5.0, 10.0, 1.0])  # one negative tied with the lowest positive
    scores = np.concatenate([pos, neg])
    labels = np.r_[np.ones(10, bool), np.zeros(3, bool)]
    got = ood_metrics(scores, labels)["fpr95"]
    assert got == caos_reference_fpr95(labels, scores) == pytest.approx(0.0)
    assert ood_metrics(scores, labels, fpr_rule="first")["fpr95"] == pytest.approx(1 / 3)


def test_degenerate_cases():
    # all scores equal: AUROC 0.5, AP = positive fraction, FPR95 = 1
    got = ood_metrics(np.zeros(10), np.r_[np.ones(3, bool), np.zeros(7, bool)])
    assert got == {"auroc": 0.5, "aupr": pytest.approx(0.3), "fpr95": 1.0}
    # one positive at the top: perfect
    got = ood_metrics(np.r_[5.0, np.zeros(9)], np.r_[True, np.zeros(9, bool)])
    assert got == {"auroc": 1.0, "aupr": 1.0, "fpr95": 0.0}
    with pytest.raises(SegoodError, match="no anomalous"):
        ood_metrics(np.arange(5.0), np.zeros(5, bool))
    with pytest.raises(SegoodError, match="no normal"):
        ood_metrics(np.arange(5.0), np.ones(5, bool))


def test_torch_input_any_shape_and_low_precision():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(2, 3, 40, 50)).astype(np.float32)
    labels = rng.random(scores.shape) < 0.1
    want = ood_metrics(scores, labels)
    assert ood_metrics(torch.from_numpy(scores), torch.from_numpy(labels)) == want
    half = torch.from_numpy(scores).to(torch.bfloat16)
    assert_same(ood_metrics(half, labels), sklearn_metrics(labels, half.float().numpy()))
    assert_same(
        ood_metrics(scores.astype(np.float16), labels.astype(np.uint8)),
        sklearn_metrics(labels, scores.astype(np.float16).astype(np.float32)),
    )


def test_ignore_mask_leaves_pixels_out():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(30, 40))
    labels = rng.random((30, 40)) < 0.2
    ignore = rng.random((30, 40)) < 0.3
    got = ood_metrics(scores, labels, ignore=ignore)
    assert_same(got, sklearn_metrics(labels[~ignore], scores[~ignore]))


def test_bad_input_is_named():
    with pytest.raises(SegoodError, match="NaN"):
        ood_metrics(np.array([0.0, np.nan]), np.array([True, False]))
    with pytest.raises(SegoodError, match="same shape"):
        ood_metrics(np.zeros(3), np.zeros(4, bool))
    with pytest.raises(SegoodError, match="fpr_rule"):
        ood_metrics(np.zeros(2), np.array([True, False]), fpr_rule="closest")
    with pytest.raises(SegoodError, match="boolean or 0/1"):
        ood_metrics(np.zeros(2), np.array([2, 0]))


def test_infinite_scores_rank_correctly():
    scores = np.array([np.inf, 1.0, -np.inf, 0.5])
    labels = np.array([True, False, False, True])
    assert ood_metrics(scores, labels)["auroc"] == 0.75
