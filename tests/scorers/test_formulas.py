"""Each scorer's formula: hand-worked values and numpy/scipy references on random logits."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import entr, logsumexp, softmax
from scipy.stats import entropy as kl_divergence

from segood.scorers import get

LOG3 = math.log(3.0)
# logits [0, log 3] -> exp = [1, 3] -> softmax p = [1/4, 3/4]
TWO = torch.tensor([[0.0, LOG3]], dtype=torch.float64)


def one(name: str, logits: torch.Tensor, **settings) -> float:
    return get(name, **settings)(logits).item()


@pytest.mark.parametrize(
    ("name", "settings", "expected"),
    [
        ("msp", {}, -0.75),  # -max(1/4, 3/4)
        ("multilabel_msp", {}, -0.75),
        ("maxlogit", {}, -LOG3),  # -max(0, log 3)
        ("multilabel_maxlogit", {}, -LOG3),
        ("logitavg", {}, -LOG3 / 2),  # -(0 + log 3) / 2
        ("background", {}, 0.25),  # p_0
        ("background", {"class_index": 1}, 0.75),  # p_1
        # the reference's eval_ood.py: minus channel b of its input, as given
        ("background", {"reference": True}, -0.0),
        ("background", {"reference": True, "class_index": 1}, -LOG3),
        ("energy", {}, -math.log(4.0)),  # -log(e^0 + e^log3) = -log(1 + 3)
        # T = 2: -2 log(e^0 + e^(log 3 / 2)) = -2 log(1 + sqrt 3)
        ("energy", {"temperature": 2.0}, -2 * math.log(1 + math.sqrt(3))),
        ("entropy", {}, -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))),
        ("temp_msp", {"temperature": 1.0}, -0.75),
        # T = 1000: p_max = e^(log3/1000) / (1 + e^(log3/1000))
        ("temp_msp", {}, -1 / (1 + math.exp(-LOG3 / 1000))),
        # gamma = 0.5: sqrt(1/4 * 3/4) + sqrt(3/4 * 1/4) = 2 sqrt(3) / 4
        ("gen", {"gamma": 0.5}, math.sqrt(3) / 2),
        # gamma = 1: 1/4 * 3/4 + 3/4 * 1/4 = 3/8
        ("gen", {"gamma": 1.0}, 3 / 8),
        # top_m = 1 keeps only p = 3/4: sqrt(3/4 * 1/4) = sqrt(3) / 4
        ("gen", {"gamma": 0.5, "top_m": 1}, math.sqrt(3) / 4),
        # gamma = 0.1 (default): 2 (3/16)^0.1
        ("gen", {}, 2 * (3 / 16) ** 0.1),
    ],
)
def test_hand_computed_values(name, settings, expected):
    assert one(name, TWO, **settings) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_temp_msp_divides_the_logits_by_t():
    # [0, 2 log 3] / 2 = [0, log 3] -> -3/4
    logits = torch.tensor([[0.0, 2 * LOG3]], dtype=torch.float64)
    assert one("temp_msp", logits, temperature=2.0) == pytest.approx(-0.75, rel=1e-12)


def test_saturated_logits_give_exact_limits():
    # [1e4, 0, -1e4]: softmax = [1, 0, 0] in floating point (e^-1e4 underflows to 0)
    x = torch.tensor([[1e4, 0.0, -1e4]])
    assert one("msp", x) == -1.0
    assert one("maxlogit", x) == -1e4
    assert one("energy", x) == -1e4
    assert one("entropy", x) == 0.0  # 0 log 0 = 0, never NaN
    assert one("gen", x) == 0.0  # 1^g 0^g + 0^g 1^g + 0^g 1^g
    assert one("background", x) == 1.0
    assert one("background", x, class_index=2) == 0.0


def test_gen_keeps_the_top_class_term_when_p_rounds_to_one():
    # [30, 0] in float32: p = [1 - e^-30, e^-30] (to 1e-13), and 1 - p_max rounds to 0 in
    # float32; G = (e^-30)^0.1 (1 - e^-30)^0.1 twice = 2 e^-3, not e^-3
    x = torch.tensor([[30.0, 0.0]])
    assert one("gen", x) == pytest.approx(2 * math.exp(-3), rel=1e-5)


def test_one_class_logits():
    x = torch.tensor([[5.0], [-3.0]])  # C = 1: softmax is always [1]
    assert get("msp")(x).tolist() == [-1.0, -1.0]
    assert get("entropy")(x).tolist() == [0.0, 0.0]
    assert get("gen")(x).tolist() == [0.0, 0.0]
    assert get("energy")(x).tolist() == [-5.0, 3.0]
    assert get("background")(x).tolist() == [1.0, 1.0]


# --- numpy / scipy references on random logits -------------------------------------------------

LOGITS = st.tuples(st.integers(1, 5), st.integers(1, 12)).flatmap(
    lambda shape: arrays(
        np.float64, shape, elements=st.floats(-40, 40, allow_subnormal=False, width=64)
    )
)


def ref_gen(x: np.ndarray, gamma: float, top_m: int) -> np.ndarray:
    """log(1 - p_j) as logsumexp over the other classes - logsumexp over all (exact near p = 1)."""
    out = np.zeros(len(x))
    for n, row in enumerate(x):
        lse = logsumexp(row)
        terms = []
        for j in range(len(row)):
            others = np.delete(row, j)
            log1mp = logsumexp(others) - lse if len(others) else -np.inf
            terms.append(np.exp(gamma * (row[j] - lse + log1mp)))
        p = softmax(row)
        out[n] = np.sum(np.array(terms)[np.argsort(-p, kind="stable")][:top_m])
    return out


REFERENCES = {
    "msp": lambda x: -softmax(x, axis=1).max(axis=1),
    "maxlogit": lambda x: -x.max(axis=1),
    "logitavg": lambda x: -x.mean(axis=1),
    "background": lambda x: softmax(x, axis=1)[:, 0],
    "energy": lambda x: -logsumexp(x, axis=1),
    "entropy": lambda x: entr(softmax(x, axis=1)).sum(axis=1),
    "temp_msp": lambda x: -softmax(x / 1000.0, axis=1).max(axis=1),
    "gen": lambda x: ref_gen(x, 0.1, 100),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@settings(max_examples=25, deadline=None)
@given(x=LOGITS)
def test_matches_scipy_reference(name, x):
    np.testing.assert_allclose(get(name)(x), REFERENCES[name](x), rtol=1e-9, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(x=LOGITS, temperature=st.floats(0.05, 50), gamma=st.floats(0.05, 2), top_m=st.integers(1, 4))
def test_settings_match_scipy_reference(x, temperature, gamma, top_m):
    t = temperature
    np.testing.assert_allclose(
        get("energy", temperature=t)(x), -t * logsumexp(x / t, axis=1), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        get("temp_msp", temperature=t)(x), -softmax(x / t, axis=1).max(axis=1), rtol=1e-9
    )
    np.testing.assert_allclose(
        get("gen", gamma=gamma, top_m=top_m)(x), ref_gen(x, gamma, top_m), rtol=1e-9, atol=1e-12
    )
    b = x.shape[1] - 1
    np.testing.assert_allclose(
        get("background", class_index=b)(x), softmax(x, axis=1)[:, b], rtol=1e-9, atol=1e-300
    )


def ref_sml(fit: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-class mean / sample std of the max logit; classes seen < 2 times use all pixels."""
    m_fit, c_fit = fit.max(axis=1), fit.argmax(axis=1)
    out = np.empty(len(x))
    for n, row in enumerate(x):
        c = row.argmax()
        group = m_fit[c_fit == c]
        if len(group) < 2:
            group = m_fit
        out[n] = -(row.max() - group.mean()) / max(group.std(ddof=1), 1e-6)
    return out


def ref_kl_matching(fit: np.ndarray, x: np.ndarray) -> np.ndarray:
    """min over predicted classes k of scipy's KL(p || mean softmax of the fit pixels -> k)."""
    p_fit = softmax(fit, axis=1)
    predicted = p_fit.argmax(axis=1)
    templates = [p_fit[predicted == k].mean(axis=0) for k in np.unique(predicted)]
    p = softmax(x, axis=1)
    return np.array([min(kl_divergence(row, d) for d in templates) for row in p])


@pytest.mark.parametrize(
    ("name", "reference"), [("sml", ref_sml), ("kl_matching", ref_kl_matching)]
)
@pytest.mark.parametrize("num_classes", [1, 3, 8])
def test_fitted_scorers_match_numpy_reference(name, reference, num_classes):
    rng = np.random.default_rng(num_classes)
    fit = 3 * rng.standard_normal((60, num_classes))
    x = 3 * rng.standard_normal((20, num_classes))
    scorer = get(name)
    scorer.update(fit)
    np.testing.assert_allclose(scorer(x), reference(fit, x), rtol=1e-9, atol=1e-12)


def test_kl_matching_of_a_template_itself_is_zero():
    scorer = get("kl_matching")
    fit = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]], dtype=torch.float64)
    scorer.update(fit)
    assert scorer(fit).abs().max().item() < 1e-12


# --- MSP precision in float32 at large logits (issue 13.2) ------------------------------------

ULP = 2.0**-24  # float32 relative rounding (results in [0.5, 1) have an ulp of 2^-24)


def test_msp_float32_large_logits_is_exact_to_rounding():
    scores = get("msp")(torch.tensor([[1000.0, 990.0]]))
    exact = -1 / (1 + math.exp(-10.0))  # -0.9999546021...
    assert exact == pytest.approx(-0.9999546, abs=5e-8)
    assert abs(scores.item() - exact) <= 2 * ULP  # exp(max - logsumexp) is off by 1.6e-5


def test_temp_msp_float32_large_logits_is_exact_to_rounding():
    scores = get("temp_msp", temperature=1000.0)(torch.tensor([[1e6, 1e6 - 10]]))
    exact = -1 / (1 + math.exp(-0.01))  # (f_1 - f_0) / T = -0.01, exactly
    assert abs(scores.item() - exact) <= 2 * ULP  # softmax(f / T) first is off by 5.9e-6


@pytest.mark.parametrize(
    ("name", "offset", "scale"),
    [("msp", 1000.0, 10.0), ("msp", 0.0, 1000.0), ("msp", 5000.0, 1.0), ("temp_msp", 0.0, 1e5)],
)
def test_msp_with_1000_classes_matches_float64(name, offset, scale):
    g = torch.Generator().manual_seed(3)
    x = (offset + scale * torch.randn(128, 1000, generator=g)).float()
    t = 1000.0 if name == "temp_msp" else 1.0
    exact = -softmax(x.double().numpy() / t, axis=1).max(axis=1)  # of the same float32 inputs
    got = get(name)(x).double().numpy()
    # a sum of 1000 float32 terms: a few ulps (measured <= 6.3); the old form erred 1e-4
    assert np.max(np.abs(got / exact - 1)) <= 16 * ULP
