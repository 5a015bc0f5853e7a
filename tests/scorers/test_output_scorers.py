"""Scorers that read model outputs other than logits: MC dropout, confidence branch, AE."""

import numpy as np
import pytest
import torch

from segood.errors import SegoodError
from segood.scorers import get

OUTPUT_SCORERS = {
    "mc_dropout": lambda *s: {"dropout_logits": torch.randn(4, *s[:1], 5, *s[1:])},
    "branch": lambda *s: {"confidence": torch.rand(*s[:1], 1, *s[1:])},
    "ae": lambda *s: {
        "image": torch.randn(*s[:1], 3, *s[1:]),
        "reconstruction": torch.randn(*s[:1], 3, *s[1:]),
    },
}


def test_mc_dropout_by_hand():
    # two passes over one pixel, 2 classes: softmax [1/2, 1/2] and [1/4, 3/4]
    passes = torch.tensor([[0.0, 0.0], [0.0, np.log(3.0)]])[:, None, :, None, None]
    # per class, unbiased variance of two values a, b = (a - b)^2 / 2: (1/4)^2 / 2 each
    want = (0.25**2 / 2 + 0.25**2 / 2) / 2
    got = get("mc_dropout")(dropout_logits=passes)
    assert got.shape == (1, 1, 1)
    assert got.item() == pytest.approx(want)
    # identical passes: no disagreement
    same = torch.randn(1, 1, 3, 2, 2).repeat(5, 1, 1, 1, 1)
    assert torch.allclose(get("mc_dropout")(dropout_logits=same), torch.zeros(1, 2, 2), atol=1e-7)
    with pytest.raises(SegoodError, match="at least 2 passes"):
        get("mc_dropout")(dropout_logits=torch.randn(1, 1, 3, 2, 2))


def test_branch_and_ae_by_hand():
    conf = torch.tensor([0.9, 0.2])[:, None, None, None]
    assert get("branch")(confidence=conf).flatten().tolist() == pytest.approx([-0.9, -0.2])
    image = torch.tensor([1.0, 2.0, 3.0])[None, :, None, None]
    recon = torch.tensor([1.0, 0.0, 6.0])[None, :, None, None]
    assert get("ae")(image=image, reconstruction=recon).item() == pytest.approx((0 + 4 + 9) / 3)
    with pytest.raises(SegoodError, match="differ"):
        get("ae")(image=image, reconstruction=recon[:, :2])


@pytest.mark.parametrize("name", sorted(OUTPUT_SCORERS))
def test_maps_and_classifier_layouts_agree(name):
    torch.manual_seed(0)
    outputs = OUTPUT_SCORERS[name](2, 3, 4)  # B=2, H=3, W=4
    scores = get(name)(**outputs)
    assert scores.shape == (2, 3, 4)
    assert torch.isfinite(scores).all()
    # the pixels of the maps as a classifier batch: (N, C) (or (T, N, C)) -> (N,)
    flat = {}
    for key, value in outputs.items():
        channel_axis = 2 if key == "dropout_logits" else 1
        moved = value.movedim(channel_axis, -1)  # (..., B, H, W, C)
        flat[key] = moved.reshape(*moved.shape[: channel_axis - 1], -1, moved.shape[-1])
    assert torch.allclose(get(name)(**flat), scores.reshape(-1), atol=1e-6)
    numpy_scores = get(name)(**{k: v.numpy() for k, v in outputs.items()})
    assert isinstance(numpy_scores, np.ndarray)


@pytest.mark.parametrize("name", sorted(OUTPUT_SCORERS))
def test_missing_output_and_nan_are_named(name):
    with pytest.raises(SegoodError, match="needs model outputs"):
        get(name)(torch.randn(1, 3, 2, 2))
    outputs = OUTPUT_SCORERS[name](1, 2, 2)
    key = next(iter(outputs))
    outputs[key].view(-1)[0] = float("nan")
    with pytest.raises(SegoodError, match="NaN"):
        get(name)(**outputs)
