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
    with pytest.raises(SegoodError, match=r"Town99.*Town01"):
        splits.resolve_towns("train", "Town99", MAPS)
    with pytest.raises(SegoodError, match="Town13: a large map streams its tiles only near"):
        splits.resolve_towns("train", "Town13", [*MAPS, "/Game/Carla/Maps/Town13"])
    base = [m for m in MAPS if m[-6:] not in splits.ADDITIONAL_MAPS]  # CARLA's base package
    with pytest.raises(SegoodError, match=r"Town06 come\(s\) with CARLA's AdditionalMaps"):
        splits.resolve_towns("test", None, base)
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
    assert merged == sorted(full) and len({i for i, _ in merged}) == 17


def test_a_frame_keeps_its_town_when_the_split_grows():
    small, big = plan.plan(7, ["A", "B", "C"]), plan.plan(11, ["A", "B", "C"])
    assert set(small) <= set(big)
    assert dict(big) == {i: "ABC"[i % 3] for i in range(11)}  # round robin: balanced
    # made grouped by town (one load each), by index within a town
    assert [t for _, t in small] == ["A"] * 3 + ["B"] * 2 + ["C"] * 2
    assert [i for i, _ in small] == [0, 3, 6, 1, 4, 2, 5]
    with pytest.raises(SegoodError, match="--frames must be >= 1, got 0"):
        plan.plan(0, ["A"])


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
