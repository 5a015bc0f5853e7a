import numpy as np

from sim.server.render.ground import ground_tags
from sim.server.town import make_town
from sim.tags import Tag


def _brute(town, x, y):
    """Road/sidewalk/terrain by testing every road (no markings)."""
    tag = np.full(x.shape, Tag.TERRAIN, np.uint8)
    inside = (np.abs(x) <= town.extent) & (np.abs(y) <= town.extent)
    for level, attr in ((Tag.SIDEWALKS, "outer_half"), (Tag.ROADS, "road_half")):
        for r in town.roads:
            off = np.abs((y if r.axis == 0 else x) - r.c)
            tag[inside & (off <= getattr(r, attr)) & (tag != Tag.ROADS)] = level
    return tag


def test_nearest_road_lookup_matches_brute_force():
    town = make_town("Town02")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-town.extent - 5, town.extent + 5, (2, 20000)).astype(np.float32)
    tag, _, parking = ground_tags(town, x, y)
    flat = np.where(tag == Tag.ROAD_LINES, Tag.ROADS, tag)
    assert (flat == _brute(town, x, y)).all()
    assert (tag == Tag.ROAD_LINES).mean() > 0.002 and parking.any()
    assert not (parking & (tag == Tag.SIDEWALKS)).any()
