"""The scorer contract, checked for every registered scorer (a new scorer is tested for free).

Parametrized over primary names (aliases are the same classes). Each scorer gets the model
outputs it `requires` from `fakes.fake_outputs`, all made from one logit map (features,
dropout passes, confidence, image and reconstruction, a model and its inputs), so that no
scorer is left out. Fitted scorers are fitted first on the fakes of confident random logits
(5 * N(0, 1)), which stand in for in-distribution data.
"""

import numpy as np
import pytest
import torch

from segood.errors import SegoodError
from segood.scorers import FittedScorer, available, get
from tests.scorers.fakes import as_rows, fake_outputs, to_dtype, to_numpy, with_bad_value

NAMES = available(aliases=False)
C = 7
EPS32 = torch.finfo(torch.float32).eps


def make(name: str, num_classes: int = C):
    """A scorer with default settings, fitted on fakes of random confident logits if needed."""
    scorer = get(name)
    if isinstance(scorer, FittedScorer):
        g = torch.Generator().manual_seed(0)
        fit = 5 * torch.randn(4, num_classes, 8, 8, generator=g)
        scorer.update(**fake_outputs(fit, seed=0, keys=scorer.requires))
    return scorer


def randn(*shape: int, scale: float = 3.0, seed: int = 1) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def outputs_of(scorer, logits: torch.Tensor) -> dict:
    """The outputs `scorer` requires, for logits (B, C, H, W) or (N, C) (then as rows)."""
    if logits.ndim == 2:
        return as_rows(outputs_of(scorer, logits[:, :, None, None]))
    return fake_outputs(logits, keys=scorer.requires)


def run(scorer, logits: torch.Tensor):
    return scorer(**outputs_of(scorer, logits))


def test_every_scorer_gets_every_output_it_requires():
    outputs = fake_outputs(randn(1, C, 2, 2))
    for name in NAMES:
        assert set(get(name).requires) <= set(outputs), name


def test_the_issue_2_scorers_are_registered():
    expected = {"msp", "maxlogit", "background", "energy", "entropy", "temp_msp", "gen", "sml"}
    expected |= {"kl_matching", "logitavg", "multilabel_maxlogit", "multilabel_msp"}
    assert expected <= set(available())  # aliases included
    assert type(get("multilabel_maxlogit")) is type(get("maxlogit"))
    assert type(get("multilabel_msp")) is type(get("msp"))


@pytest.mark.parametrize("name", NAMES)
def test_map_shape_dtype_and_finite(name):
    scores = run(make(name), randn(2, C, 5, 6))
    assert isinstance(scores, torch.Tensor)
    assert scores.shape == (2, 5, 6)
    assert scores.dtype == torch.float32
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_classifier_outputs_equal_1x1_maps(name):
    scorer = make(name)
    maps = outputs_of(scorer, randn(9, C)[:, :, None, None])  # (N, ., 1, 1)
    flat = scorer(**as_rows(maps))  # (N, .): the same memory, viewed without the 1x1 axes
    assert flat.shape == (9,)
    # one code path, (N, C) is scored as (N, C, 1, 1) with the same strides: bitwise equal
    assert torch.equal(flat, scorer(**maps)[:, 0, 0])


@pytest.mark.parametrize("name", NAMES)
def test_map_equals_its_pixels_as_a_batch(name):
    scorer = make(name)
    maps = outputs_of(scorer, randn(2, C, 5, 6))
    expected = scorer(**as_rows(maps)).reshape(2, 5, 6)  # (B*H*W,) -> (B, H, W)
    # another memory layout: reductions may round differently, by a few float32 ulps
    torch.testing.assert_close(scorer(**maps), expected, rtol=64 * EPS32, atol=8 * EPS32)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_in_numpy_out(name):
    scorer = make(name)
    maps = outputs_of(scorer, randn(2, C, 3, 4))
    out = scorer(**to_numpy(maps))
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, scorer(**maps).numpy())  # the same tensors inside
    flat = scorer(**to_numpy(outputs_of(scorer, randn(2, C))))
    assert isinstance(flat, np.ndarray) and flat.shape == (2,)


@pytest.mark.parametrize("name", NAMES)
def test_uniform_scores_higher_than_confident(name):
    confident = torch.zeros(C)
    confident[1] = 20.0  # one-hot-like, on a class other than 0 (the background default)
    uniform = torch.zeros(C)
    scores = run(make(name), torch.stack([confident, uniform]))
    assert scores[1] > scores[0], f"{name}: uniform {scores[1]} <= confident {scores[0]}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("dtype", "atol"), [(torch.float16, 1e-2), (torch.bfloat16, 6e-2)], ids=["fp16", "bf16"]
)
def test_half_precision_is_computed_in_float32(name, dtype, atol):
    scorer = make(name)
    maps = outputs_of(scorer, randn(2, C, 4, 5))
    low = to_dtype(maps, dtype)
    scores = scorer(**low)
    assert scores.dtype == torch.float32
    if not set(scorer.requires) & scorer.passthrough:  # passed-through outputs stay as given
        assert torch.equal(scores, scorer(**to_dtype(low, torch.float32)))  # promoted first
    scale = max(1.0, float(scorer(**maps).abs().max()))
    torch.testing.assert_close(scores, scorer(**maps), rtol=2e-2, atol=atol * scale)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("num_classes", "scale"),
    [(C, 1e4), (1, 3.0), (1, 1e4), (1000, 5.0), (1000, 1e4)],
    ids=["C7-1e4", "C1", "C1-1e4", "C1000", "C1000-1e4"],
)
def test_extreme_logits_give_finite_scores(name, num_classes, scale):
    scores = run(make(name, num_classes), randn(2, num_classes, 3, 3, scale=scale))
    assert scores.shape == (2, 3, 3)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_large_map_is_finite(name):
    num_classes = 19
    scores = run(make(name, num_classes), randn(1, num_classes, 512, 1024, scale=4.0))
    assert scores.shape == (1, 512, 1024)
    assert torch.isfinite(scores).all()


CASES = [(name, key) for name in NAMES for key in get(name).requires]


@pytest.mark.parametrize(("name", "output"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_inf_are_rejected(name, output, bad):
    scorer = make(name)
    outputs = with_bad_value(outputs_of(scorer, randn(2, C, 3, 3)), output, bad)
    if output != "classifier":  # ViM reads the classifier when fitting (its origin) only
        with pytest.raises(SegoodError, match="NaN/Inf"):
            scorer(**outputs)
    if isinstance(scorer, FittedScorer):
        with pytest.raises(SegoodError, match="NaN/Inf"):
            scorer.update(**outputs)


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(SegoodError, match="unknown scorer 'no_such_scorer'") as err:
        get("no_such_scorer")
    for name in NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_setting_is_rejected(name):
    with pytest.raises(SegoodError, match=f"scorer '{name}' has no setting 'no_such_setting'"):
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
