"""Scan a dataset and report every problem with counts (`segood-check-data`,
`tools/check_data.py`).

    segood-check-data streethazards data/streethazards [--split test ...]
    segood-check-data bdd_anomaly data/bdd_anomaly
    segood-check-data smiyc-anomaly data/dataset_AnomalyTrack
    segood-check-data lostandfound data/lostandfound --split testNoKnown

Datasets: streethazards, bdd_anomaly, smiyc-anomaly, smiyc-obstacle, fishyscapes-laf,
lostandfound, road-anomaly, cityscapes. By default every split is scanned except those made of
other splits' frames (SegmentMeIfYouCan "all", Lost and Found "testNoKnown"); splits published
without labels have their images checked.

Exit 0: clean. Exit 1: problems found (summary table printed). Exit 2: usage or layout error.
"""

from __future__ import annotations

from collections.abc import Sequence

from segood.cli.app import command, parser
from segood.cli.options import add_progress


@command("segood-check-data")
def main(argv: Sequence[str] | None = None) -> int:
    from segood.data.checks import check_dataset
    from segood.data.factory import DATASETS

    p = parser(__doc__)
    p.add_argument("dataset", help=f"one of {', '.join(DATASETS)}")
    p.add_argument("root", help="dataset root folder")
    p.add_argument("--split", action="append", help="split to scan (repeatable; default all)")
    p.add_argument("--list", type=int, default=10, help="examples listed per problem kind")
    add_progress(p)
    args = p.parse_args(argv)
    report = check_dataset(args.dataset, args.root, args.split, not args.no_progress)
    print(report.render(args.list))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
