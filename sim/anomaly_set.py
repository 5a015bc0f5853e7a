"""Which objects become anomalies: a curated set of props, checked against the server.

On a real CARLA 0.9.16 server the stock `static.prop.*` blueprints are street furniture
(benches, bins, bus stops, cones, mailboxes, ...) that a driving model sees in training, and
`static.prop.mesh` spawns an empty actor unless it is given a `mesh_path`. So there the set is an
explicit input: `--anomaly-blueprints @FILE` (blueprint ids, one per line: e.g. props imported
into the CARLA package) or `--anomaly-meshes FILE` (packaged mesh paths for `static.prop.mesh`,
one per line as `MESH_PATH [SIZE] [SCALE]`). The loopback server's props are anomalies by
design, so there the default `static.prop.*` is fine. Props reserved for outlier-exposure
training (sim.server.props.OUTLIER_SHAPES) are never anomalies.

Sizes are CARLA's five prop sizes (EPropSize); each has the footprint radius that placement
keeps free around a prop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segood.errors import SegoodError
from sim.server import props

# CARLA's size tooltips: tiny < mailbox, small = mailbox, medium = a person, big = a bus stop,
# huge = a house or bigger. Radii (metres) of the ground circle a prop of that size may cover.
FOOTPRINT = {"tiny": 0.3, "small": 0.5, "medium": 0.9, "big": 1.5, "huge": 4.0}
MESH = "static.prop.mesh"
WILDCARDS = set("*?[")
GUIDE = "see the README section 'Generating scenes with a real CARLA 0.9.16 server'"


@dataclass(frozen=True)
class AnomalyProp:
    blueprint: str
    size: str
    mesh_path: str = ""
    scale: float = 1.0

    @property
    def radius(self) -> float:
        return FOOTPRINT[self.size] * self.scale

    @property
    def name(self) -> str:
        return self.mesh_path or self.blueprint

    def attributes(self) -> dict[str, str]:
        """Blueprint attributes to set before spawning."""
        if not self.mesh_path:
            return {}
        return {"mesh_path": self.mesh_path, "scale": f"{self.scale:g}"}

    def record(self) -> list:
        return [self.name, self.size, self.scale]


def read_lines(path: Path, what: str) -> list[str]:
    """Non-empty lines of a list file, without `#` comments."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SegoodError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from exc
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise SegoodError(f"{what} {path} lists nothing (one entry per line, # for comments)")
    return lines


def parse_meshes(path: Path) -> list[AnomalyProp]:
    """`MESH_PATH [SIZE] [SCALE]` per line; size defaults to medium, scale to 1."""
    out = []
    for line in read_lines(path, "--anomaly-meshes"):
        mesh, *rest = line.split()
        size = rest[0].lower() if rest else "medium"
        if size not in FOOTPRINT or len(rest) > 2:
            raise SegoodError(
                f"--anomaly-meshes {path}: {line!r} must be 'MESH_PATH [SIZE] [SCALE]' with SIZE "
                f"one of {', '.join(FOOTPRINT)}"
            )
        try:
            scale = float(rest[1]) if len(rest) > 1 else 1.0
        except ValueError:
            scale = -1.0
        if not 0.01 <= scale <= 20:
            raise SegoodError(f"--anomaly-meshes {path}: scale in {line!r} must be 0.01..20")
        if not mesh.startswith("/"):
            raise SegoodError(
                f"--anomaly-meshes {path}: {mesh!r} is not a packaged mesh path (like "
                "/Game/MyAnomalies/Props/Couch/Couch.Couch)"
            )
        out.append(AnomalyProp(MESH, size, mesh, scale))
    return out


def patterns_of(spec: str | None) -> list[str]:
    """The blueprint patterns of --anomaly-blueprints (a comma list, or @FILE)."""
    if not spec:
        return []
    if spec.startswith("@"):
        return read_lines(Path(spec[1:]), "--anomaly-blueprints")
    return [p.strip() for p in spec.split(",") if p.strip()]


def check_curated(patterns: list[str], meshes: list[AnomalyProp], loopback: bool) -> None:
    """Refuse what would make stock furniture or empty actors anomalies on a real server."""
    if loopback:
        return
    if not patterns and not meshes:
        raise SegoodError(
            "on a real CARLA server the anomaly set must be curated: the stock static.prop.* "
            "blueprints are street furniture (benches, bins, bus stops, cones, mailboxes, ...) "
            "that a driving model sees in training, and static.prop.mesh spawns an empty actor "
            "without a mesh_path. Pass --anomaly-blueprints @FILE (one blueprint id per line, "
            "e.g. props you imported) or --anomaly-meshes FILE (one packaged mesh path per "
            f"line); {GUIDE}"
        )
    wild = [p for p in patterns if WILDCARDS & set(p)]
    if wild:
        raise SegoodError(
            f"--anomaly-blueprints {', '.join(wild)}: on a real CARLA server list blueprint ids "
            "one by one (no wildcards): a pattern such as static.prop.* picks up CARLA's stock "
            f"street furniture, which is not anomalous for a driving model; {GUIDE}"
        )
    if MESH in patterns:
        raise SegoodError(
            "--anomaly-blueprints static.prop.mesh spawns an empty actor without a mesh_path: "
            "give the meshes with --anomaly-meshes FILE (MESH_PATH [SIZE] [SCALE] per line)"
        )


def resolve(library, patterns: list[str], meshes: list[AnomalyProp]) -> list[AnomalyProp]:
    """The anomaly set on this server's blueprint `library` (carla.BlueprintLibrary-like)."""
    found: dict[str, AnomalyProp] = {}
    reserved, missing = set(), []
    for pattern in patterns:
        matched = [bp for bp in library.filter(pattern) if bp.id != MESH]
        if not matched:
            missing.append(pattern)
        for bp in matched:
            if props.is_outlier_prop(bp.id):
                reserved.add(bp.id)
                continue
            size = bp.get_attribute("size").as_str() if bp.has_attribute("size") else "medium"
            found[bp.id] = AnomalyProp(bp.id, size if size in FOOTPRINT else "medium")
    if missing:
        raise SegoodError(
            f"--anomaly-blueprints: {', '.join(missing)} not on the server (it lists "
            f"{len(library.filter('static.prop.*'))} static.prop.* blueprints); import the "
            f"assets into the CARLA package or fix the names; {GUIDE}"
        )
    if meshes and not library.filter(MESH):
        raise SegoodError(f"--anomaly-meshes: the server has no {MESH} blueprint")
    out = sorted(found.values(), key=lambda p: p.blueprint) + meshes
    if not out:
        extra = (
            f" (it matches only props reserved for outlier-exposure training: "
            f"{', '.join(sorted(reserved))})"
            if reserved
            else ""
        )
        raise SegoodError(f"no anomaly prop matches --anomaly-blueprints{extra}")
    return out
