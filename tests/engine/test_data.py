"""The resumable sampler, the padding collate and seeded augmentation."""

from __future__ import annotations

import itertools

import torch

from segood.engine import ResumableInfiniteSampler, SegoodDataset, seg_collate


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_sampler_resumes_anywhere_and_covers_each_epoch(monkeypatch):
    sampler = ResumableInfiniteSampler(range(5), seed=3)
    stream = take(sampler, 12)
    assert sorted(i for i, _ in stream[:5]) == list(range(5))  # epoch 0 is a permutation
    assert len({s for _, s in stream}) == 12  # one seed per position
    sampler.set_start(7)
    assert take(sampler, 5) == stream[7:12]
    assert take(ResumableInfiniteSampler(range(5), seed=3), 12) == stream


def test_sampler_splits_positions_over_ranks(monkeypatch):
    full = take(ResumableInfiniteSampler(range(6), seed=0), 8)
    ranks = []
    for rank in (0, 1):
        monkeypatch.setattr("segood.engine.data.get_dist_info", lambda r=rank: (r, 2))
        sampler = ResumableInfiniteSampler(range(6), seed=0)
        assert len(sampler) == 3
        ranks.append(take(sampler, 4))
    assert ranks[0] == full[0::2] and ranks[1] == full[1::2]


def test_collate_pads_with_ignore_and_marks_padding():
    items = [
        {"inputs": torch.ones(3, 4, 5), "data_samples": {"label": torch.zeros(4, 5), "name": "a"}},
        {"inputs": torch.ones(3, 6, 3), "data_samples": {"label": torch.ones(6, 3), "name": "b"}},
    ]
    batch = seg_collate(items, ignore_index=255, size_divisor=4)
    assert batch["inputs"].shape == (2, 3, 8, 8)
    labels, valid = batch["data_samples"]["labels"], batch["data_samples"]["valid"]
    assert labels.dtype == torch.int64 and labels[0, :4, :5].eq(0).all()
    assert labels[0, 4:].eq(255).all() and labels[1, :, 3:].eq(255).all()
    assert valid.sum().item() == 20 + 18 and batch["inputs"][0, :, 4:].eq(0).all()
    assert batch["data_samples"]["sizes"] == [(4, 5), (6, 3)]


def test_augmentation_is_a_function_of_the_sample_seed(sh_root):
    ds = SegoodDataset(
        "streethazards", str(sh_root), "train",
        transform=dict(name="reference_train", short_sides=(16, 24, 32), max_long=64),
    )  # fmt: skip
    assert len(ds) == 4 and ds.metainfo["num_classes"] == 13
    draws = [ds[(1, seed)] for seed in (5, 6, 7, 8, 5)]
    assert torch.equal(draws[0]["inputs"], draws[4]["inputs"])
    assert torch.equal(draws[0]["data_samples"]["label"], draws[4]["data_samples"]["label"])
    assert len({d["inputs"].shape for d in draws}) > 1  # the scale does vary with the seed
    plain = ds[1]
    assert plain["inputs"].dtype == torch.float32 and plain["data_samples"]["name"]
