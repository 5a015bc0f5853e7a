import pytest

from segood.errors import SegoodError
from sim import plan, splits

MAPS = [f"/Game/Carla/Maps/Town0{i}" for i in range(1, 8)] + ["/Game/Carla/Maps/Town10HD"]


def test_default_split_is_three_one_two_and_disjoint():
    d = splits.DEFAULT_TOWNS
    assert (len(d["train"]), len(d["validation"]), len(d["test"])) == (3, 1, 2)
    splits.check_disjoint({k: list(v) for k, v in d.items()})


def test_resolve_checks_the_server_maps():
    assert splits.resolve_towns("test", None, MAPS) == ["Town05", "Town06"]
    assert splits.resolve_towns("train", "town07,Town10HD", MAPS) == ["Town07", "Town10HD"]
    with pytest.raises(SegoodError, match=r"Town12.*Town01"):
        splits.resolve_towns("train", "Town12", MAPS)
    with pytest.raises(SegoodError, match="twice"):
        splits.resolve_towns("train", "Town01,Town01", MAPS)
    with pytest.raises(SegoodError, match="split"):
        splits.resolve_towns("val", None, MAPS)


def test_a_town_in_two_splits_is_refused():
    with pytest.raises(SegoodError, match="Town04"):
        splits.check_disjoint({"train": ["Town01", "Town04"], "validation": ["Town04"]})


def test_anomalies_only_in_test():
    assert splits.anomaly_count("test", None) == splits.DEFAULT_ANOMALIES
    assert splits.anomaly_count("test", 0) == 0
    assert splits.anomaly_count("train", None) == 0
    assert splits.anomaly_count("validation", 0) == 0
    with pytest.raises(SegoodError, match="only in the test"):
        splits.anomaly_count("train", 2)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shards_cover_every_frame_once(n):
    towns = ["Town01", "Town02", "Town03"]
    full = plan.plan(17, towns)
    parts = [plan.plan(17, towns, plan.Shard(i, n)) for i in range(n)]
    merged = sorted(f for p in parts for f in p)
    assert merged == full and len({i for i, _ in merged}) == 17


def test_towns_get_contiguous_equal_blocks():
    towns = [t for _, t in plan.plan(9, ["A", "B", "C"])]
    assert towns == ["A"] * 3 + ["B"] * 3 + ["C"] * 3


def test_seeds_are_deterministic_and_distinct():
    a = plan.frame_seed(0, "train", 3)
    assert a == plan.frame_seed(0, "train", 3)
    others = {
        plan.frame_seed(0, "train", 4),
        plan.frame_seed(1, "train", 3),
        plan.frame_seed(0, "test", 3),
        plan.frame_seed(0, "train", 3, attempt=1),
    }
    assert a not in others and len(others) == 4


def test_parse_shard():
    assert plan.parse_shard("2/4") == plan.Shard(2, 4)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(SegoodError):
            plan.parse_shard(bad)
