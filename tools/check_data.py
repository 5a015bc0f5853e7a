"""Scan a dataset and report every problem with counts.

    python tools/check_data.py streethazards data/streethazards [--split test ...]
    python tools/check_data.py bdd_anomaly data/bdd_anomaly
    python tools/check_data.py smiyc-anomaly data/dataset_AnomalyTrack
    python tools/check_data.py lostandfound data/lostandfound --split testNoKnown

Datasets: streethazards, bdd_anomaly, smiyc-anomaly, smiyc-obstacle, fishyscapes-laf,
lostandfound, road-anomaly, cityscapes. By default every split is scanned except those made of
other splits' frames (SegmentMeIfYouCan "all", Lost and Found "testNoKnown"); splits published
without labels have their images checked.

Exit 0: clean. Exit 1: problems found (summary table printed). Exit 2: usage or layout error.
"""

from __future__ import annotations

import argparse
import sys

from segood.data.checks import check_dataset
from segood.data.factory import DATASETS
from segood.errors import SegoodError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("root", help="dataset root folder")
    parser.add_argument("--split", action="append", help="split to scan (repeatable; default all)")
    parser.add_argument("--list", type=int, default=10, help="examples listed per problem kind")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        report = check_dataset(args.dataset, args.root, args.split, not args.no_progress)
    except SegoodError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.render(args.list))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
