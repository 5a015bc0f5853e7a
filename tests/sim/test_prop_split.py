"""The prop library's split: test anomalies vs props reserved for outlier exposure, and the
RGBA sprites rendered from the reserved part."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from segood.cli import make_sprites as make_sprites_tool
from segood.data.paste import list_cutouts
from segood.errors import SegoodError
from sim import anomaly_set
from sim.server import props
from sim.sprites import make_sprites

REPO = Path(__file__).resolve().parents[2]


def test_parts_are_disjoint_and_cover_the_library():
    test, outlier = props.library("test"), props.library("outlier")
    assert test and outlier and not set(test) & set(outlier)
    assert set(test) | set(outlier) == set(props.library())
    assert len(props.library()) == 18 * 3
    assert set(props.TEST_SHAPES) | set(props.OUTLIER_SHAPES) == set(props.SHAPES)
    assert all(props.is_outlier_prop(bp) for bp in outlier)
    assert not any(props.is_outlier_prop(bp) for bp in test)
    assert props.shape_of("static.prop.snowman_m") == "snowman"
    assert props.shape_of("static.prop.trafficcone01") is None  # a real CARLA prop
    with pytest.raises(ValueError):
        props.library("train")


class FakeLibrary:
    """What `session.blueprints` offers: `filter(pattern)` over the loopback server's props."""

    def __init__(self, names):
        self.names = names

    def filter(self, pattern):
        def bp(name):
            size = {"s": "small", "m": "medium", "l": "big"}[name.rsplit("_", 1)[-1]]
            attr = SimpleNamespace(as_str=lambda: size)
            return SimpleNamespace(
                id=name, has_attribute=lambda _: True, get_attribute=lambda _: attr
            )

        return [bp(n) for n in self.names if fnmatch.fnmatch(n, pattern)]


def test_generator_draws_anomalies_from_the_test_part_only():
    library = FakeLibrary(sorted(props.library()))
    chosen = {p.blueprint: p for p in anomaly_set.resolve(library, ["static.prop.*"], [])}
    assert set(chosen) == set(props.library("test"))
    assert chosen["static.prop.giantball_l"].radius == anomaly_set.FOOTPRINT["big"]
    # asking for reserved props only is an error that says why
    with pytest.raises(SegoodError, match="reserved for outlier-exposure"):
        anomaly_set.resolve(library, ["static.prop.snowman_*"], [])


def test_server_still_offers_every_prop_by_name():
    from sim.server.world import World

    world = SimpleNamespace(props=props.library())  # what World.__post_init__ sets
    found = World.find_blueprints(world, "static.prop.*")
    assert set(found) == set(props.library())
    assert "static.prop.snowman_m" in found and "static.prop.giantball_m" in found


def test_sprites_are_rgba_with_alpha_and_only_reserved_props(tmp_path):
    paths = make_sprites(tmp_path / "s", count=4, size=24, seed=1)
    assert [p.name for p in sorted(paths)] == [p.name for p in list_cutouts(tmp_path / "s")]
    for p in paths:
        rgba = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert rgba.shape == (24, 24, 4) and rgba.dtype == np.uint8
        alpha = rgba[..., 3]
        assert (alpha == 255).sum() > 10 and (alpha == 0).sum() > 10  # object on transparency
        shape = p.name.rsplit("_", 2)[0]
        assert shape in props.OUTLIER_SHAPES
    # deterministic in (seed, index); a rerun keeps what exists
    again = make_sprites(tmp_path / "t", count=2, size=24, seed=1)
    for a, b in zip(paths[:2], again, strict=True):
        assert a.name == b.name and a.read_bytes() == b.read_bytes()


def test_make_outlier_sprites_tool(tmp_path, capsys):
    out = tmp_path / "sprites"
    assert make_sprites_tool.main(["--out", str(out), "--count", "2", "--size", "16"]) == 0
    assert len(list_cutouts(out)) == 2 and "2 sprites" in capsys.readouterr().out
