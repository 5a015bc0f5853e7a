"""SegModel's objectives as objects: margins from the first batch, state round trips."""

import math

import pytest
import torch

from segood.engine.objectives import ConfidenceBranch, CrossEntropy, EnergyBounded
from segood.errors import SegoodError
from segood.models import SegOutput

I, O = 255, 254  # ignore, outlier


def outputs(*pixels):
    """One image, one row: (1, K, 1, N) logits."""
    logits = torch.tensor(pixels, dtype=torch.float32).T[None, :, None, :]
    return SegOutput(logits=logits, features=logits)


def test_energy_margins_from_first_batch_then_kept():
    out = outputs([0.0, 0.0], [1.0, 1.0], [5.0, 5.0])
    target = torch.tensor([[[0, 1, O]]])
    objective = EnergyBounded(I, O, 0.1, None, None, 1.0, 1.0)
    terms = objective(out, target)
    energies = [-math.log(2), -(1 + math.log(2))]  # in-distribution pixels only
    mean = sum(energies) / 2
    std = math.sqrt(sum((e - mean) ** 2 for e in energies) / 2)
    assert [float(v) for v in objective.margins] == pytest.approx([mean - std, mean + std])
    assert set(terms) == {"loss_ce", "loss_energy", "outlier_frac", "m_in", "m_out"}
    state = objective.train_state()
    fresh = EnergyBounded(I, O, 0.1, None, None, 1.0, 1.0)
    fresh.load_train_state(state)
    assert fresh.train_state() == state
    assert "margins" not in fresh.state_dict()  # non-persistent: not in the checkpoint weights


def test_confidence_lambda_adapts_and_round_trips():
    objective = ConfidenceBranch(I, O, lam=0.1, budget=0.3)
    out = outputs([2.0, 0.0], [0.0, 2.0])
    out = SegOutput(out.logits, out.features, confidence=torch.full((1, 1, 2), 0.5))
    terms = objective(out, torch.tensor([[[0, 1]]]))
    assert float(terms["conf_lambda"]) == pytest.approx(0.1)  # the value the step used
    assert float(objective.lam) == pytest.approx(0.1 / 0.99)  # -log 0.5 = 0.69 >= budget
    restored = ConfidenceBranch(I, O, lam=1.0, budget=0.3)
    restored.load_train_state(objective.train_state())
    assert float(restored.lam) == float(objective.lam)


def test_plain_cross_entropy_refuses_outlier_pixels():
    with pytest.raises(SegoodError, match=r"model\.outlier is not set"):
        CrossEntropy(I, O, num_classes=2)(outputs([1.0, 0.0]), torch.tensor([[[O]]]))
