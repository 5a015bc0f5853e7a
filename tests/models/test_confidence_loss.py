import math

import pytest
import torch

from segood.models import AdaptiveLambda, confidence_branch_loss


def one_pixel(p: list[float], c: float, y: int):
    logits = torch.tensor(p).log().view(1, len(p), 1, 1)  # softmax(log p) = p
    return logits, torch.tensor([[[c]]]), torch.tensor([[[y]]])


def test_one_pixel_with_hint_by_hand():
    logits, conf, target = one_pixel([0.2, 0.5, 0.3], c=0.6, y=0)
    out = confidence_branch_loss(logits, conf, target, lam=0.1, hint=torch.tensor([True]))
    p_true = 0.6 * 0.2 + 0.4 * 1.0  # p' = c p + (1 - c) y at the true class
    assert out.nll.item() == pytest.approx(-math.log(p_true), rel=1e-5)
    assert out.penalty.item() == pytest.approx(-math.log(0.6), rel=1e-5)
    assert out.loss.item() == pytest.approx(-math.log(p_true) - 0.1 * math.log(0.6), rel=1e-5)


def test_one_pixel_without_hint_is_plain_nll_plus_penalty():
    logits, conf, target = one_pixel([0.2, 0.5, 0.3], c=0.6, y=1)
    out = confidence_branch_loss(logits, conf, target, lam=0.5, hint=torch.tensor([False]))
    assert out.nll.item() == pytest.approx(-math.log(0.5), rel=1e-5)
    assert out.loss.item() == pytest.approx(-math.log(0.5) - 0.5 * math.log(0.6), rel=1e-5)


def test_ignored_pixels_are_excluded_and_extremes_are_finite():
    logits = torch.tensor([0.2, 0.5, 0.3]).log().view(1, 3, 1, 1).expand(1, 3, 1, 2).clone()
    conf = torch.tensor([[[0.6, 0.0]]])  # c = 0 on the ignored pixel: would be -log 0
    target = torch.tensor([[[0, -1]]])
    out = confidence_branch_loss(logits, conf, target, lam=0.1, hint=torch.tensor([True]))
    assert out.nll.item() == pytest.approx(-math.log(0.6 * 0.2 + 0.4), rel=1e-5)
    assert out.penalty.item() == pytest.approx(-math.log(0.6), rel=1e-5)
    conf = torch.tensor([[[0.0, 1.0]]])  # c clamped: finite
    out = confidence_branch_loss(logits, conf, torch.tensor([[[0, 1]]]), lam=0.1)
    assert torch.isfinite(out.loss)


def test_hint_is_drawn_per_sample_with_probability_half():
    B = 400
    logits = torch.zeros(B, 2, 1, 1)  # p = 0.5 for both classes
    conf = torch.full((B, 1, 1), 0.5)
    target = torch.zeros(B, 1, 1, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    out = confidence_branch_loss(logits, conf, target, lam=0.0, generator=g)
    # hinted p' = 0.75, else 0.5: the NLL tells the hinted fraction
    frac = (out.nll.item() + math.log(0.5)) / (math.log(0.5) - math.log(0.75))
    assert 0.4 < frac < 0.6


def test_gradients_flow_to_logits_and_confidence():
    logits = torch.randn(2, 4, 3, 5, requires_grad=True)
    conf = torch.rand(2, 3, 5).clamp(0.1, 0.9).requires_grad_()
    target = torch.randint(0, 4, (2, 3, 5))
    confidence_branch_loss(logits, conf, target, lam=0.1).loss.backward()
    assert logits.grad.abs().sum() > 0 and conf.grad.abs().sum() > 0


def test_shape_and_label_checks():
    with pytest.raises(ValueError, match="must be"):
        confidence_branch_loss(
            torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 3), torch.zeros(1, 2, 2), lam=0.1
        )
    with pytest.raises(ValueError, match="outside"):
        confidence_branch_loss(
            torch.zeros(1, 3, 1, 1), torch.ones(1, 1, 1), torch.tensor([[[3]]]), lam=0.1
        )


def test_adaptive_lambda_moves_toward_the_budget_and_resumes():
    lam = AdaptiveLambda()
    assert lam.lam == pytest.approx(0.1) and lam.budget == pytest.approx(0.3)
    assert lam.update(0.5) == pytest.approx(0.1 / 0.99)  # above budget: grow
    assert lam.update(torch.tensor(0.1)) == pytest.approx(0.1 / 0.99 / 1.01)  # below: shrink
    resumed = AdaptiveLambda(lam=1.0, budget=1.0)
    resumed.load_state_dict(lam.state_dict())
    assert resumed.state_dict() == lam.state_dict()
