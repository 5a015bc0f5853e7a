"""Fitted scorers (SML, KL matching): streaming fits, masks, hand-computed fits, persistence."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from segood.errors import SegoodError
from segood.scorers import get

FITTED = ["sml", "kl_matching"]
C = 5


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return 4 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def fitted(name: str, *batches, **settings):
    scorer = get(name, **settings)
    for batch in batches:
        scorer.update(batch)
    return scorer


def assert_same_state(a, b, rtol=1e-12):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=rtol, atol=1e-12)


# --- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FITTED)
def test_streaming_fit_equals_one_shot_fit(name):
    batches = [randn(n, C, 4, 6, seed=n) for n in (1, 3, 2)]
    one_shot = fitted(name, torch.cat(batches))
    streamed = fitted(name, *batches)
    reversed_ = fitted(name, *batches[::-1])
    assert_same_state(one_shot, streamed)
    assert_same_state(one_shot, reversed_)
    x = randn(2, C, 3, 3, seed=9)
    torch.testing.assert_close(streamed(x), one_shot(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", FITTED)
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(0, 40), max_size=5), seed=st.integers(0, 100))
def test_any_split_into_batches_gives_the_same_fit(name, cuts, seed):
    pixels = randn(40, C, seed=seed).double()  # (N, C) classifier-style fit
    bounds = [0, *sorted(cuts), 40]
    batches = [pixels[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    assert_same_state(fitted(name, pixels), fitted(name, *batches))


@pytest.mark.parametrize("name", FITTED)
def test_mask_excludes_pixels(name):
    x = randn(2, C, 4, 6)
    mask = randn(2, 4, 6, seed=1) > 0
    masked = get(name)
    masked.update(x, mask=mask)
    kept_only = fitted(name, x.movedim(1, -1)[mask])  # the kept pixels as an (N, C) batch
    assert_same_state(masked, kept_only)
    numpy_mask = get(name)
    numpy_mask.update(x.numpy(), mask=mask.numpy())
    assert_same_state(masked, numpy_mask)


@pytest.mark.parametrize("name", FITTED)
def test_all_masked_out_is_not_a_fit(name):
    scorer = get(name)
    scorer.update(randn(1, C, 2, 2), mask=torch.zeros(1, 2, 2, dtype=torch.bool))
    assert not scorer.fitted
    with pytest.raises(SegoodError, match="not fitted"):
        scorer(randn(1, C, 2, 2))


# --- hand-computed fits -----------------------------------------------------------------------


def test_sml_hand_computed():
    # class 0 max logits {1, 3}: mean 2, sample variance ((1-2)^2 + (3-2)^2) / 1 = 2
    # class 1 seen once (max logit 5): pooled over {1, 3, 5}: mean 3, variance (4+0+4)/2 = 4
    fit = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]], dtype=torch.float64)
    scorer = fitted("sml", fit)
    x = torch.tensor([[4.0, 0.0], [0.0, 7.0], [2.0, 1.0]], dtype=torch.float64)
    expected = [-(4 - 2) / math.sqrt(2), -(7 - 3) / 2, -(2 - 2) / math.sqrt(2)]
    np.testing.assert_allclose(scorer(x).numpy(), expected, rtol=1e-12, atol=1e-15)


def test_sml_constant_class_uses_the_eps_floor():
    fit = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
    scorer = fitted("sml", fit, eps=1e-3)  # class 0: max logits {2, 2}, std 0 -> 1e-3
    x = torch.tensor([[2.5, 0.0]], dtype=torch.float64)
    assert scorer(x).item() == pytest.approx(-0.5 / 1e-3, rel=1e-12)


def test_sml_needs_two_pixels():
    scorer = fitted("sml", torch.tensor([[1.0, 0.0]]))
    assert not scorer.fitted
    scorer.update(torch.tensor([[0.0, 2.0]]))
    assert scorer.fitted


def test_kl_matching_hand_computed():
    # template of class 0 from logits [log 3, 0]: d_0 = [3/4, 1/4]; class 1 never predicted yet
    scorer = fitted("kl_matching", torch.tensor([[math.log(3), 0.0]], dtype=torch.float64))
    half = torch.tensor([[0.0, 0.0]], dtype=torch.float64)  # p = [1/2, 1/2]
    # KL(p || d_0) = 1/2 log((1/2)/(3/4)) + 1/2 log((1/2)/(1/4)) = 1/2 log(4/3)
    assert scorer(half).item() == pytest.approx(0.5 * math.log(4 / 3), rel=1e-12)
    # class 1 from [0, log 3] -> [1/4, 3/4] and [0, log 7] -> [1/8, 7/8]: d_1 = [3/16, 13/16]
    scorer.update(torch.tensor([[0.0, math.log(3)], [0.0, math.log(7)]], dtype=torch.float64))
    torch.testing.assert_close(
        scorer.templates(), torch.tensor([[3 / 4, 1 / 4], [3 / 16, 13 / 16]], dtype=torch.float64)
    )
    p = torch.tensor([[0.0, math.log(3)]], dtype=torch.float64)  # p = [1/4, 3/4]
    kl_0 = 0.25 * math.log((1 / 4) / (3 / 4)) + 0.75 * math.log((3 / 4) / (1 / 4))  # 1/2 log 3
    kl_1 = 0.25 * math.log((1 / 4) / (3 / 16)) + 0.75 * math.log((3 / 4) / (13 / 16))
    assert kl_1 < kl_0
    assert scorer(p).item() == pytest.approx(min(kl_0, kl_1), rel=1e-12)


def test_kl_matching_leaves_out_classes_never_predicted():
    fit = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 2.0]])  # classes 0 and 2 predicted
    scorer = fitted("kl_matching", fit)
    assert scorer.templates().shape == (2, 3)


def test_kl_matching_uses_tiny_template_entries_exactly():
    # issue 13: d_0 = softmax([30, 0]) has d_0,1 = 9.4e-14, a real probability (no clamping)
    import mpmath

    mpmath.mp.dps = 50
    scorer = fitted("kl_matching", torch.tensor([[30.0, 0.0]], dtype=torch.float64))
    d = [mpmath.exp(30) / (mpmath.exp(30) + 1), 1 / (mpmath.exp(30) + 1)]
    exact = sum(mpmath.mpf(1) / 2 * mpmath.log((mpmath.mpf(1) / 2) / di) for di in d)
    assert float(exact) == pytest.approx(14.306853, abs=5e-7)
    half = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    assert scorer(half).item() == pytest.approx(float(exact), rel=1e-13)


def test_kl_matching_zero_template_entries_follow_the_definition():
    # exp(-1000) underflows to exactly 0 in float64: d_0 = [1, 0]; d_1 = softmax([0, 3])
    scorer = fitted("kl_matching", torch.tensor([[1000.0, 0.0], [0.0, 3.0]], dtype=torch.float64))
    d_1 = [1 / (1 + math.exp(3)), math.exp(3) / (1 + math.exp(3))]
    assert scorer.templates()[0].tolist() == [1.0, 0.0]
    x = torch.tensor([[1000.0, 0.0], [0.0, 0.0], [0.0, 1000.0]], dtype=torch.float64)
    scores = scorer(x).tolist()
    assert scores[0] == 0.0  # p = [1, 0] = d_0: 1 log 1 + 0 log(0 / 0) = 0
    # p = [1/2, 1/2] puts mass where d_0 is 0: KL to d_0 is +inf, the minimum is KL to d_1
    assert scores[1] == pytest.approx(sum(0.5 * math.log(0.5 / q) for q in d_1), rel=1e-13)
    assert scores[2] == pytest.approx(-math.log(d_1[1]), rel=1e-13)  # p = [0, 1]


def test_kl_matching_is_infinite_when_every_template_has_no_mass_where_p_has():
    scorer = fitted("kl_matching", torch.tensor([[1000.0, 0.0]], dtype=torch.float64))
    scores = scorer(torch.tensor([[0.0, 0.0], [5.0, 0.0], [1000.0, 0.0]], dtype=torch.float64))
    assert scores[0].item() == math.inf and scores[1].item() == math.inf  # ranked above all
    assert scores[2].item() == 0.0


# --- errors and persistence -------------------------------------------------------------------


@pytest.mark.parametrize("name", FITTED)
def test_scoring_or_saving_before_the_fit_is_an_error(name, tmp_path):
    scorer = get(name)
    assert not scorer.fitted
    with pytest.raises(SegoodError, match="not fitted"):
        scorer(randn(1, C, 2, 2))
    with pytest.raises(SegoodError, match="no fitted state"):
        scorer.save(tmp_path / "fit.pt")


@pytest.mark.parametrize("name", FITTED)
def test_class_count_mismatch_is_an_error(name):
    scorer = fitted(name, randn(2, C, 3, 3))
    with pytest.raises(SegoodError, match=f"fitted on logits with {C} classes"):
        scorer(randn(2, C + 1, 3, 3))
    with pytest.raises(SegoodError, match=f"fitted on logits with {C} classes"):
        scorer.update(randn(2, C - 1, 3, 3))


@pytest.mark.parametrize("name", FITTED)
def test_save_load_round_trip_gives_identical_scores(name, tmp_path):
    scorer = fitted(name, randn(2, C, 4, 4), randn(1, C, 4, 4, seed=3))
    path = tmp_path / "nested" / f"{name}.pt"
    scorer.save(path)
    loaded = get(name).load(path)
    assert loaded.fitted
    x = randn(2, C, 5, 5, seed=7)
    assert torch.equal(loaded(x), scorer(x))
    assert_same_state(loaded, scorer, rtol=0)
    loaded.update(randn(1, C, 2, 2, seed=8))  # a loaded fit keeps streaming
    scorer.update(randn(1, C, 2, 2, seed=8))
    assert_same_state(loaded, scorer, rtol=0)


def test_loading_another_scorers_file_is_an_error(tmp_path):
    fitted("sml", randn(1, C, 3, 3)).save(tmp_path / "sml.pt")
    fitted("kl_matching", randn(1, C, 3, 3)).save(tmp_path / "kl.pt")
    with pytest.raises(SegoodError, match="fit of scorer 'sml', not 'kl_matching'"):
        get("kl_matching").load(tmp_path / "sml.pt")
    with pytest.raises(SegoodError, match="fit of scorer 'kl_matching', not 'sml'"):
        get("sml").load(tmp_path / "kl.pt")


@pytest.mark.parametrize("name", FITTED)
def test_unreadable_files_are_errors(name, tmp_path):
    with pytest.raises(SegoodError, match="no fitted scorer state"):
        get(name).load(tmp_path / "missing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SegoodError, match="cannot read"):
        get(name).load(tmp_path / "garbage.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(SegoodError, match="not a fitted scorer state"):
        get(name).load(tmp_path / "tensor.pt")


@pytest.mark.parametrize("name", FITTED)
def test_inconsistent_state_is_an_error(name):
    state = fitted(name, randn(1, C, 3, 3)).state_dict()
    state["num_classes"] = torch.tensor(C + 2)
    with pytest.raises(SegoodError, match="inconsistent"):
        get(name).load_state_dict(state)
    del state["num_classes"]
    with pytest.raises(SegoodError, match="lacks"):
        get(name).load_state_dict(state)


@pytest.mark.parametrize("name", FITTED)
def test_mask_of_wrong_size_is_named(name):
    with pytest.raises(SegoodError, match="mask has shape"):
        get(name).update(randn(2, C, 4, 6), mask=torch.ones(3, 4, dtype=torch.bool))
