"""`sources.drop_classes`: the reference's --exclude_back on every output with a class axis."""

import pytest
import torch

from segood.errors import SegoodError
from segood.evaluation.sources import drop_classes


def test_drop_classes_removes_the_channel_everywhere():
    logits = torch.arange(2 * 4 * 3 * 3, dtype=torch.float32).reshape(2, 4, 3, 3)
    passes = torch.randn(5, 2, 4, 3, 3)
    features = torch.randn(2, 8, 3, 3)
    out = drop_classes({"logits": logits, "dropout_logits": passes, "features": features}, (0,))
    torch.testing.assert_close(out["logits"], logits[:, 1:])
    torch.testing.assert_close(out["dropout_logits"], passes[:, :, 1:])
    assert out["features"] is features
    assert drop_classes({"logits": logits}, ())["logits"] is logits
    with pytest.raises(SegoodError, match="has 4 classes"):
        drop_classes({"logits": logits}, (4,))
