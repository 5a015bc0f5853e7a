"""The anomaly set: list files, mesh lists with CARLA's five sizes, and what a real server
refuses."""

from types import SimpleNamespace

import pytest

from segood.errors import SegoodError
from sim import anomaly_set
from sim.anomaly_set import FOOTPRINT, MESH, AnomalyProp


class Library:
    """carla.BlueprintLibrary's filter() over blueprints with a `size` attribute."""

    def __init__(self, sizes: dict[str, str]):
        self.sizes = sizes

    def filter(self, pattern):
        import fnmatch

        def bp(name):
            attr = SimpleNamespace(as_str=lambda: self.sizes[name])
            has = self.sizes[name] is not None
            return SimpleNamespace(
                id=name, has_attribute=lambda _: has, get_attribute=lambda _: attr
            )

        return [bp(n) for n in self.sizes if fnmatch.fnmatch(n, pattern)]


def test_carla_prop_sizes_all_have_footprints():
    assert list(FOOTPRINT) == ["tiny", "small", "medium", "big", "huge"]  # EPropSize order
    radii = list(FOOTPRINT.values())
    assert radii == sorted(radii) and len(set(radii)) == 5


def test_mesh_list(tmp_path):
    f = tmp_path / "meshes.txt"
    f.write_text(
        "# anomalies imported into the package\n"
        "/Game/Anomalies/Couch/Couch.Couch big\n"
        "/Game/Anomalies/Toy/Toy.Toy tiny 0.5   # half size\n"
        "\n/Game/Anomalies/Crate/Crate.Crate\n"
    )
    couch, toy, crate = anomaly_set.parse_meshes(f)
    assert couch == AnomalyProp(MESH, "big", "/Game/Anomalies/Couch/Couch.Couch", 1.0)
    assert (toy.size, toy.scale, toy.radius) == ("tiny", 0.5, FOOTPRINT["tiny"] * 0.5)
    assert crate.size == "medium" and crate.attributes() == {
        "mesh_path": "/Game/Anomalies/Crate/Crate.Crate",
        "scale": "1",
    }
    for bad, says in [
        ("/Game/A.A enormous", "SIZE one of tiny, small, medium, big, huge"),
        ("/Game/A.A big x", "scale"),
        ("/Game/A.A big 99", "scale"),
        ("Couch", "not a packaged mesh path"),
    ]:
        f.write_text(bad)
        with pytest.raises(SegoodError, match=says):
            anomaly_set.parse_meshes(f)
    f.write_text("# nothing\n")
    with pytest.raises(SegoodError, match="lists nothing"):
        anomaly_set.parse_meshes(f)
    with pytest.raises(SegoodError, match="cannot read"):
        anomaly_set.parse_meshes(tmp_path / "missing.txt")


def test_blueprint_list_file(tmp_path):
    f = tmp_path / "props.txt"
    f.write_text("static.prop.couch  # a sofa\nstatic.prop.piano\n")
    assert anomaly_set.patterns_of(f"@{f}") == ["static.prop.couch", "static.prop.piano"]
    assert anomaly_set.patterns_of("a, b") == ["a", "b"] and anomaly_set.patterns_of(None) == []


def test_a_real_server_needs_a_curated_set():
    anomaly_set.check_curated([], [], loopback=True)  # the loopback's props are anomalies
    with pytest.raises(SegoodError, match=r"street furniture .* --anomaly-blueprints @FILE"):
        anomaly_set.check_curated([], [], loopback=False)
    with pytest.raises(SegoodError, match="no wildcards"):
        anomaly_set.check_curated(["static.prop.*"], [], loopback=False)
    with pytest.raises(SegoodError, match="empty actor without a mesh_path"):
        anomaly_set.check_curated(["static.prop.mesh"], [], loopback=False)
    anomaly_set.check_curated(["static.prop.couch"], [], loopback=False)


def test_resolve_on_the_server_library():
    names = {"static.prop.couch": "big", "static.prop.pebble": "tiny", "static.prop.odd": "?"}
    lib = Library({**names, MESH: None})
    got = anomaly_set.resolve(lib, list(names), [])
    assert [(p.blueprint, p.size) for p in got] == [
        ("static.prop.couch", "big"),
        ("static.prop.odd", "medium"),  # a size CARLA does not define reads as medium
        ("static.prop.pebble", "tiny"),
    ]
    mesh = AnomalyProp(MESH, "huge", "/Game/A/B.B", 0.5)
    assert anomaly_set.resolve(lib, [], [mesh]) == [mesh]
    with pytest.raises(SegoodError, match=r"static\.prop\.piano not on the server"):
        anomaly_set.resolve(lib, ["static.prop.couch", "static.prop.piano"], [])
    with pytest.raises(SegoodError, match=r"no static\.prop\.mesh"):
        anomaly_set.resolve(Library({"static.prop.couch": "big"}), [], [mesh])
