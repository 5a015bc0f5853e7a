"""The scorer contract, checked for every registered scorer (a new scorer is tested for free).

Fitted scorers are fitted first on confident random logits (5 * N(0, 1)), which stand in for
in-distribution data; scorers that need more than logits are skipped here.
"""

import numpy as np
import pytest
import torch

from segood.errors import SegoodError
from segood.scorers import FittedScorer, available, get

NAMES = available()
C = 7


def make(name: str, num_classes: int = C):
    """A scorer with default settings, fitted on random confident logits if it needs a fit."""
    scorer = get(name)
    if tuple(scorer.requires) != ("logits",):
        pytest.skip(f"{name} needs {scorer.requires}, not only logits")
    if isinstance(scorer, FittedScorer):
        g = torch.Generator().manual_seed(0)
        scorer.update(5 * torch.randn(4, num_classes, 8, 8, generator=g))
    return scorer


def randn(*shape: int, scale: float = 3.0, seed: int = 1) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_the_issue_2_scorers_are_registered():
    expected = {"msp", "maxlogit", "background", "energy", "entropy", "temp_msp", "gen", "sml"}
    expected |= {"kl_matching", "logitavg", "multilabel_maxlogit", "multilabel_msp"}
    assert expected <= set(NAMES)
    assert type(get("multilabel_maxlogit")) is type(get("maxlogit"))
    assert type(get("multilabel_msp")) is type(get("msp"))


@pytest.mark.parametrize("name", NAMES)
def test_map_shape_dtype_and_finite(name):
    scores = make(name)(randn(2, C, 5, 6))
    assert isinstance(scores, torch.Tensor)
    assert scores.shape == (2, 5, 6)
    assert scores.dtype == torch.float32
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_classifier_logits_equal_1x1_maps(name):
    scorer = make(name)
    x = randn(9, C)
    flat = scorer(x)
    assert flat.shape == (9,)
    assert torch.equal(flat, scorer(x[:, :, None, None])[:, 0, 0])


@pytest.mark.parametrize("name", NAMES)
def test_map_equals_its_pixels_as_a_batch(name):
    scorer = make(name)
    x = randn(2, C, 5, 6)
    pixels = x.movedim(1, -1).reshape(-1, C)  # (B*H*W, C)
    expected = scorer(pixels).reshape(2, 5, 6)
    torch.testing.assert_close(scorer(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_in_numpy_out(name):
    scorer = make(name)
    x = randn(2, C, 3, 4)
    out = scorer(x.numpy())
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 4)
    np.testing.assert_allclose(out, scorer(x).numpy(), rtol=1e-6, atol=1e-7)
    flat = scorer(x[:, :, 0, 0].numpy())
    assert isinstance(flat, np.ndarray) and flat.shape == (2,)


@pytest.mark.parametrize("name", NAMES)
def test_uniform_scores_higher_than_confident(name):
    confident = torch.zeros(C)
    confident[1] = 20.0  # one-hot-like, on a class other than 0 (the background default)
    uniform = torch.zeros(C)
    scores = make(name)(torch.stack([confident, uniform]))
    assert scores[1] > scores[0], f"{name}: uniform {scores[1]} <= confident {scores[0]}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("dtype", "atol"), [(torch.float16, 1e-2), (torch.bfloat16, 6e-2)], ids=["fp16", "bf16"]
)
def test_half_precision_is_computed_in_float32(name, dtype, atol):
    scorer = make(name)
    x = randn(2, C, 4, 5)
    low = x.to(dtype)
    scores = scorer(low)
    assert scores.dtype == torch.float32
    assert torch.equal(scores, scorer(low.float()))  # promoted before any math
    torch.testing.assert_close(scores, scorer(x), rtol=2e-2, atol=atol)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("num_classes", "scale"),
    [(C, 1e4), (1, 3.0), (1, 1e4), (1000, 5.0), (1000, 1e4)],
    ids=["C7-1e4", "C1", "C1-1e4", "C1000", "C1000-1e4"],
)
def test_extreme_logits_give_finite_scores(name, num_classes, scale):
    scores = make(name, num_classes)(randn(2, num_classes, 3, 3, scale=scale))
    assert scores.shape == (2, 3, 3)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_large_map_is_finite(name):
    num_classes = 19
    scores = make(name, num_classes)(randn(1, num_classes, 512, 1024, scale=4.0))
    assert scores.shape == (1, 512, 1024)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_inf_are_rejected(name, bad):
    scorer = make(name)
    x = randn(2, C, 3, 3)
    x[1, 2, 0, 1] = bad
    with pytest.raises(SegoodError, match="NaN/Inf"):
        scorer(x)
    if isinstance(scorer, FittedScorer):
        with pytest.raises(SegoodError, match="NaN/Inf"):
            scorer.update(x)


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(SegoodError, match="unknown scorer 'no_such_scorer'") as err:
        get("no_such_scorer")
    for name in NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_setting_is_rejected(name):
    with pytest.raises(SegoodError, match="bad settings"):
        get(name, no_such_setting=1)


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("energy", {"temperature": 0}),
        ("energy", {"temperature": -1.0}),
        ("energy", {"temperature": float("nan")}),
        ("energy", {"temperature": "hot"}),
        ("temp_msp", {"temperature": 0.0}),
        ("temp_msp", {"temperature": float("inf")}),
        ("gen", {"gamma": 0.0}),
        ("gen", {"gamma": -0.5}),
        ("gen", {"top_m": 0}),
        ("gen", {"top_m": 2.5}),
        ("background", {"class_index": -1}),
        ("background", {"class_index": 1.0}),
        ("background", {"reference": 1}),
        ("sml", {"eps": 0.0}),
    ],
)
def test_bad_setting_values_are_rejected(name, settings):
    with pytest.raises(SegoodError, match=name):
        get(name, **settings)


def test_background_class_beyond_the_logits_is_rejected():
    scorer = get("background", class_index=C)
    with pytest.raises(SegoodError, match=f"class_index={C}.*{C} classes"):
        scorer(randn(2, C, 3, 3))
