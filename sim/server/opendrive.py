"""OpenDRIVE 1.4 text for a procedural town, so the client's `world.get_map()` works.

Every road is one straight `<road>` (no junction records: the client only needs lanes to
produce waypoints). CARLA flips the y axis when it reads OpenDRIVE, so a CARLA point (x, y) is
(x, -y) here; lanes with negative ids (right of the reference line) carry traffic in the
road's direction, i.e. right-hand traffic as in the renderer and the spawn points.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from sim.server.town import RoadSpec, Town


def _lane(lane_id: int, kind: str, width: float, mark: str = "none") -> str:
    return (
        f'<lane id="{lane_id}" type="{kind}" level="false"><link/>'
        f'<width sOffset="0" a="{width:.3f}" b="0" c="0" d="0"/>'
        f'<roadMark sOffset="0" type="{mark}" weight="standard" color="standard" '
        f'width="0.15"/></lane>'
    )


def _side(road: RoadSpec, sign: int) -> str:
    """Lanes on one side, from the centre outwards; sign -1 = right lanes."""
    lanes, k = [], 1
    for i in range(road.lanes):
        lanes.append(
            _lane(sign * k, "driving", road.lane_width, "broken" if i < road.lanes - 1 else "solid")
        )
        k += 1
    if road.parking:
        lanes.append(_lane(sign * k, "parking", road.parking_width))
        k += 1
    lanes.append(_lane(sign * k, "sidewalk", road.sidewalk_width))
    if sign > 0:
        lanes.reverse()
    return "".join(lanes)


def town_xodr(town: Town) -> str:
    e = town.extent
    out = [
        '<?xml version="1.0" standalone="yes"?>',
        "<OpenDRIVE>",
        f'<header revMajor="1" revMinor="4" name="{escape(town.name)}" version="1" '
        f'north="{e:.2f}" south="{-e:.2f}" east="{e:.2f}" west="{-e:.2f}">'
        "<geoReference><![CDATA[+proj=tmerc +lat_0=0 +lon_0=0 +k=1 +x_0=0 +y_0=0 "
        "+datum=WGS84 +units=m +no_defs]]></geoReference></header>",
    ]
    for r in town.roads:
        length = 2 * e
        if r.axis == 0:  # along +x at CARLA y = c  ->  OpenDRIVE y = -c, heading 0
            x0, y0, hdg = -e, -r.c, 0.0
        else:  # along CARLA +y at x = c  ->  OpenDRIVE heading -pi/2 starting at y = +e
            x0, y0, hdg = r.c, e, -np.pi / 2
        out.append(
            f'<road name="Road {r.id}" length="{length:.3f}" id="{r.id}" junction="-1"><link/>'
            f'<planView><geometry s="0" x="{x0:.3f}" y="{y0:.3f}" hdg="{hdg:.6f}" '
            f'length="{length:.3f}"><line/></geometry></planView>'
            f'<elevationProfile><elevation s="0" a="0" b="0" c="0" d="0"/></elevationProfile>'
            f'<lateralProfile/><lanes><laneSection s="0">'
            f"<left>{_side(r, 1)}</left>"
            f'<center><lane id="0" type="none" level="false"><link/>'
            f'<roadMark sOffset="0" type="solid solid" weight="standard" color="yellow" '
            f'width="0.15"/></lane></center>'
            f"<right>{_side(r, -1)}</right></laneSection></lanes></road>"
        )
    out.append("</OpenDRIVE>")
    return "\n".join(out)
