"""The synthetic OOD sets of the paper's appendix: shapes, value sets, statistics, seeds."""

import numpy as np
import pytest

from segood.classification.synthetic_ood import KINDS, synthetic_ood
from segood.errors import SegoodError


@pytest.mark.parametrize("kind", KINDS)
def test_shape_range_and_reproducible(kind):
    x = synthetic_ood(kind, 6, (12, 10), 3, seed=1)
    assert x.shape == (6, 3, 12, 10) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x, synthetic_ood(kind, 6, (12, 10), 3, seed=1))
    assert not np.array_equal(x, synthetic_ood(kind, 6, (12, 10), 3, seed=2))


def test_gaussian_is_clipped_normal_with_sigma_half():
    x = 2 * synthetic_ood("gaussian", 200, (16, 16), 3) - 1  # back to [-1, 1]
    assert abs(x.mean()) < 0.01
    inside = x[np.abs(x) < 1]
    assert np.mean(np.abs(x) == 1) == pytest.approx(0.0455, abs=0.005)  # P(|N(0, .5)| > 1)
    assert inside.std() == pytest.approx(0.45, abs=0.02)  # truncated-normal spread


def test_rademacher_is_plus_minus_one_half_half():
    x = 2 * synthetic_ood("rademacher", 100, (8, 8), 3) - 1
    assert set(np.unique(x)) == {-1.0, 1.0}
    assert x.mean() == pytest.approx(0.0, abs=0.02)


def test_blobs_have_definite_edges():
    x = synthetic_ood("blobs", 50, (32, 32), 3)
    on = x[x > 0]
    assert on.min() >= 0.75  # values below 0.75 are zeroed
    assert 0.05 < (x > 0).mean() < 0.95


def test_bad_kind_or_count():
    with pytest.raises(SegoodError, match="unknown synthetic"):
        synthetic_ood("uniform", 3, (8, 8))
    with pytest.raises(SegoodError, match="at least 1"):
        synthetic_ood("gaussian", 0, (8, 8))
