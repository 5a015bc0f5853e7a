"""Towns per split (the paper: 3 training towns, 1 validation town, 2 test towns) and the rule
that anomalies are test-only (the output folders of each split are segood.data.streethazards').

CARLA 0.9.16's base package has Town01-05 and Town10HD; Town06 and Town07 (the default test
split uses Town06) come with the AdditionalMaps package. The large maps Town12, Town13 and
Town15 stream their tiles only around the spectator or a hero vehicle, while the generator
jumps its cameras anywhere on the map: it refuses them rather than capture unloaded tiles.
"""

from __future__ import annotations

from segood.errors import SegoodError

SPLITS = ("train", "validation", "test")
DEFAULT_TOWNS: dict[str, tuple[str, ...]] = {
    "train": ("Town01", "Town02", "Town03"),
    "validation": ("Town04",),
    "test": ("Town05", "Town06"),
}
DEFAULT_ANOMALIES = 3
ADDITIONAL_MAPS = ("Town06", "Town07")  # CARLA's AdditionalMaps package, not the base one
LARGE_MAPS = ("Town12", "Town13", "Town15")


def map_name(path: str) -> str:
    """'Town05' from '/Game/Carla/Maps/Town05' (what get_available_maps returns)."""
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def resolve_towns(split: str, towns: str | list[str] | None, available: list[str]) -> list[str]:
    """The split's towns (`towns` overrides the default), each checked against the server."""
    if split not in SPLITS:
        raise SegoodError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if isinstance(towns, str):
        towns = [t.strip() for t in towns.split(",") if t.strip()]
    chosen = list(towns) if towns else list(DEFAULT_TOWNS[split])
    if len(set(chosen)) != len(chosen):
        raise SegoodError(f"--towns lists a town twice: {', '.join(chosen)}")
    large = [t for t in chosen if t.lower() in {m.lower() for m in LARGE_MAPS}]
    if large:
        raise SegoodError(
            f"{', '.join(large)}: a large map streams its tiles only near the spectator or a hero "
            "vehicle, and the generator's cameras jump across the map, so frames would show "
            "unloaded tiles; use other towns (--towns)"
        )
    names = {map_name(m).lower(): map_name(m) for m in available}
    missing = [t for t in chosen if t.lower() not in names]
    if missing:
        extra = [t for t in missing if t in ADDITIONAL_MAPS]
        message = (
            f"town(s) {', '.join(missing)} for split {split!r} are not on the server; it has: "
            f"{', '.join(sorted(names.values())) or 'no maps'}."
        )
        if extra:
            message += (
                f" {', '.join(extra)} come(s) with CARLA's AdditionalMaps package: put "
                "AdditionalMaps_0.9.16.tar.gz in the CARLA folder's Import/ and run "
                "./ImportAssets.sh. Or"
            )
        raise SegoodError(f"{message} {'pass' if extra else 'Pass'} --towns with towns it has.")
    return [names[t.lower()] for t in chosen]


def check_disjoint(towns_by_split: dict[str, list[str]]) -> None:
    """A town must belong to one split only (the benchmark tests on unseen towns)."""
    seen: dict[str, str] = {}
    for split, towns in towns_by_split.items():
        for t in towns:
            if t in seen and seen[t] != split:
                raise SegoodError(f"town {t} is in both {seen[t]!r} and {split!r}")
            seen[t] = split


def anomaly_count(split: str, requested: int | None) -> int:
    """How many props per frame: test only (default 3); asking for them elsewhere is an error."""
    if split != "test":
        if requested:
            raise SegoodError(
                f"--anomalies {requested} with --split {split}: anomalies appear only in the test "
                "split (as in StreetHazards); drop --anomalies or use --split test"
            )
        return 0
    if requested is not None and requested < 0:
        raise SegoodError("--anomalies must be >= 0")
    return DEFAULT_ANOMALIES if requested is None else requested
