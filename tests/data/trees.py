"""Tiny dataset trees in the road-anomaly benchmarks' published layouts, written by the tests.

File names, folders and raw label values follow each benchmark's release (see the loaders'
docstrings for the sources). Every writer returns a dict {frame name: raw label (or None)} so
tests can compute expected values from the raw labels themselves, not from the loaders.
Images are random (seeded); labels mix every raw value the benchmark defines, plus values it
does not name, which its official code treats as void.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = (6, 8)  # (H, W)


def write_image(path: Path, image: np.ndarray) -> None:
    """Write an RGB uint8 image; WebP losslessly (quality > 100), PNG/JPEG by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if path.suffix == ".webp" else []
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)


def write_label(path: Path, raw: np.ndarray) -> None:
    """Write an (H, W) uint8 raw label map as a single-channel PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert raw.dtype == np.uint8 and raw.ndim == 2
    assert cv2.imwrite(str(path), raw)


def random_image(rng: np.random.Generator, size: tuple[int, int] = SIZE) -> np.ndarray:
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def random_label(rng: np.random.Generator, values: list[int]) -> np.ndarray:
    """A label map drawing from `values`; the first two values are always present."""
    raw = rng.choice(np.array(values, np.uint8), SIZE)
    raw[0, 0], raw[0, 1] = values[0], values[1]
    return raw


# --- SegmentMeIfYouCan ---------------------------------------------------------------------
SMIYC_VALUES = [0, 1, 255, 0, 0, 7]  # 0 in-distribution/road, 1 anomaly/obstacle, else void
ANOMALY_TEST = ("zebra0000", "cones0003", "boat_trailer0001")
OBSTACLE_FRAMES = {
    "validation_1": "validation",
    "validation_2": "validation",
    "validation_20": "validation",
    "validation_19": "excluded",  # left out of the official validation split
    "validation_25": "excluded",
    "curvy-street_0001": "test",
    "darkasphalt2_dog_1": "test",
    "one-way-street_x": "test",
    "driveway_night_1": "night",
    "snowstorm1_00_16_02.578": "snowstorm",
    "snowstorm2_00_02_32.753": "snowstorm",
}


def smiyc_anomaly(root: Path, n_validation: int = 3, seed: int = 0) -> dict:
    """dataset_AnomalyTrack/: images/*.jpg, labels_masks/validationNNNN_labels_semantic.png
    (and the colour renderings beside them); the test frames have no labels."""
    rng = np.random.default_rng(seed)
    raws: dict[str, np.ndarray | None] = {}
    for i in range(n_validation):
        frame = f"validation{i:04d}"
        write_image(root / "images" / f"{frame}.jpg", random_image(rng))
        raws[frame] = random_label(rng, SMIYC_VALUES)
        write_label(root / "labels_masks" / f"{frame}_labels_semantic.png", raws[frame])
        colour = np.zeros((*SIZE, 3), np.uint8)
        write_image(root / "labels_masks" / f"{frame}_labels_semantic_color.png", colour)
    for frame in ANOMALY_TEST:
        write_image(root / "images" / f"{frame}.jpg", random_image(rng))
        raws[frame] = None
    return raws


def smiyc_obstacle(root: Path, seed: int = 0) -> dict:
    """dataset_ObstacleTrack/: images/<scene>_<rest>.webp, labels_masks/ for every scene
    "validation" frame (the excluded ones too, as in the release)."""
    rng = np.random.default_rng(seed)
    raws: dict[str, np.ndarray | None] = {}
    for frame, group in OBSTACLE_FRAMES.items():
        write_image(root / "images" / f"{frame}.webp", random_image(rng))
        raws[frame] = None
        if group in ("validation", "excluded"):
            raws[frame] = random_label(rng, SMIYC_VALUES)
            write_label(root / "labels_masks" / f"{frame}_labels_semantic.png", raws[frame])
    return raws


# --- Lost and Found, Fishyscapes ------------------------------------------------------------
LAF_VALUES = [1, 2, 0, 1, 1, 17, 43, 201]  # 0 void, 1 road, 2..200 obstacle, 201+ void
LAF_FRAMES = {
    "train": ("01_Hanns_Klemm_Str_45_000000_000080", "04_Maurener_Weg_8_000002_000120"),
    "test": ("02_Hanns_Klemm_Str_44_000000_000020", "13_Elly_Beinhorn_Str_000001_000080"),
}


def laf_paths(root: Path, split: str, frame: str) -> tuple[Path, Path]:
    """(image, label) paths of a Lost and Found frame in its published layout."""
    scene = frame.rsplit("_", 2)[0]
    return (root / "leftImg8bit" / split / scene / f"{frame}_leftImg8bit.png",
            root / "gtCoarse" / split / scene / f"{frame}_gtCoarse_labelIds.png")  # fmt: skip


def lost_and_found(root: Path, frames: dict | None = None, seed: int = 0) -> dict:
    """leftImg8bit/{split}/<scene>/<frame>_leftImg8bit.png and gtCoarse/.../_labelIds.png,
    with the release's side files (_gtCoarse_color.png, _gtCoarse_instanceIds.png)."""
    rng = np.random.default_rng(seed)
    raws: dict[str, np.ndarray] = {}
    for split, names in (frames or LAF_FRAMES).items():
        for frame in names:
            image, label = laf_paths(root, split, frame)
            write_image(image, random_image(rng))
            raws[frame] = random_label(rng, LAF_VALUES)
            write_label(label, raws[frame])
            base = str(label)[: -len("_labelIds.png")]
            write_label(Path(base + "_instanceIds.png"), np.zeros(SIZE, np.uint8))
            write_image(Path(base + "_color.png"), np.zeros((*SIZE, 3), np.uint8))
    return raws


FISHY_VALUES = [0, 1, 255, 0, 0]  # 0 in-distribution, 1 anomaly, 255 void


def fishyscapes(root: Path, seed: int = 0) -> dict:
    """A Lost and Found root plus fishyscapes_lostandfound/<NNNN>_<frame>_labels.png for one
    train and one test frame."""
    rng = np.random.default_rng(seed)
    lost_and_found(root, seed=seed)
    raws: dict[str, np.ndarray] = {}
    chosen = (LAF_FRAMES["test"][1], LAF_FRAMES["train"][0])
    for index, frame in enumerate(chosen):
        raws[frame] = random_label(rng, FISHY_VALUES)
        write_label(root / "fishyscapes_lostandfound" / f"{index:04d}_{frame}_labels.png",
                    raws[frame])  # fmt: skip
    return raws


# --- Road Anomaly ---------------------------------------------------------------------------
ROAD_ANOMALY_VALUES = [0, 2, 1]  # 0 background, 1 road, 2 anomaly
ROAD_ANOMALY_FRAMES = ("animals01_Guiguinto_railway_station_Calves", "cones06_VnA_traffic_cones")


def road_anomaly(root: Path, suffix: str = ".jpg", seed: int = 0) -> dict:
    """frame_list.json, frames/<name><suffix>, frames/<name>.labels/labels_semantic.png
    (+ labels_semantic_color.png), as RoadAnomaly_jpg.zip (or RoadAnomaly.zip: .webp)."""
    import json

    rng = np.random.default_rng(seed)
    raws: dict[str, np.ndarray] = {}
    for frame in ROAD_ANOMALY_FRAMES:
        write_image(root / "frames" / f"{frame}{suffix}", random_image(rng))
        raws[frame] = random_label(rng, ROAD_ANOMALY_VALUES)
        write_label(root / "frames" / f"{frame}.labels" / "labels_semantic.png", raws[frame])
        colour = np.zeros((*SIZE, 3), np.uint8)
        write_image(root / "frames" / f"{frame}.labels" / "labels_semantic_color.png", colour)
    names = [f"{frame}{suffix}" for frame in ROAD_ANOMALY_FRAMES]
    (root / "frame_list.json").write_text(json.dumps(names))
    return raws


# --- Cityscapes -----------------------------------------------------------------------------
CITYSCAPES_FRAMES = {
    "train": ("aachen_000000_000019", "bochum_000000_000313"),
    "val": ("frankfurt_000000_000294",),
    "test": ("berlin_000000_000019",),
}


def cityscapes(root: Path, seed: int = 0) -> dict:
    """leftImg8bit/{split}/<city>/<frame>_leftImg8bit.png, gtFine/{split}/<city>/
    <frame>_gtFine_labelIds.png (label ids 0..33; test: placeholders) with side files."""
    rng = np.random.default_rng(seed)
    raws: dict[str, np.ndarray | None] = {}
    for split, frames in CITYSCAPES_FRAMES.items():
        for frame in frames:
            city = frame.split("_")[0]
            write_image(root / "leftImg8bit" / split / city / f"{frame}_leftImg8bit.png",
                        random_image(rng))  # fmt: skip
            gt = root / "gtFine" / split / city
            raws[frame] = None
            if split == "test":  # the release's placeholder test labels, which hold no class
                write_label(gt / f"{frame}_gtFine_labelIds.png", np.zeros(SIZE, np.uint8))
            else:
                raws[frame] = rng.integers(0, 34, SIZE, dtype=np.uint8)
                write_label(gt / f"{frame}_gtFine_labelIds.png", raws[frame])
                write_label(gt / f"{frame}_gtFine_instanceIds.png", np.zeros(SIZE, np.uint8))
                (gt / f"{frame}_gtFine_polygons.json").write_text("{}")
    return raws
