"""Energy-bounded fine-tuning: the loss by hand, the margins check, a tiny end-to-end run."""

import json
import math

import pytest
import torch

from segood.classification.energy_finetune import energy_finetune_loss, energy_terms
from segood.cli import eval_cls
from segood.errors import SegoodError


def test_loss_by_hand():
    logits_in = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    logits_out = torch.tensor([[1.0, 1.0], [-3.0, -3.0]])
    targets = torch.tensor([0, 1])
    m_in, m_out = -2.0, -1.0
    e_in = [-math.log(math.exp(2) + 1), -math.log(2)]  # -2.127, -0.693
    e_out = [-(1 + math.log(2)), 3 - math.log(2)]  # -1.693, 2.307
    hinge_in = sum(max(e - m_in, 0) ** 2 for e in e_in) / 2  # only the second: 1.307^2
    hinge_out = sum(max(m_out - e, 0) ** 2 for e in e_out) / 2  # only the first: 0.693^2
    ce = (-(2 - math.log(math.exp(2) + 1)) + math.log(2)) / 2
    expected = ce + 0.1 * (hinge_in + hinge_out)
    got = energy_finetune_loss(logits_in, targets, logits_out, m_in, m_out, weight=0.1)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    assert float(energy_terms(logits_in, logits_out, m_in, m_out)) == pytest.approx(
        hinge_in + hinge_out, rel=1e-6
    )


def test_margins_must_be_ordered():
    x = torch.zeros(2, 3)
    with pytest.raises(SegoodError, match="swapped"):
        energy_finetune_loss(x, torch.tensor([0, 1]), x, m_in=-5.0, m_out=-23.0)


def test_cli_one_epoch_reports_before_and_after(tmp_path, capsys):
    out = tmp_path / "e"
    rc = eval_cls.main(
        ["energy-ft", "--epochs", "1", "--ft-epochs", "1", "--out", str(out), "--no-plots"]
    )
    assert rc == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"before", "after"}
    assert set(results["after"]) == {"gaussian", "rademacher", "blobs", "shuffled", "inverted"}
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["m_in"] < run["settings"]["m_out"]
    # the fine-tuning pushes in-distribution energies down
    assert run["after"]["mean_energy_id"] < run["before"]["mean_energy_id"]
    assert eval_cls.main(["energy-ft", "--m-in", "-3", "--m-out", "-20"]) == 2
