"""Build BDD-Anomaly from the BDD100K 10K semantic-segmentation release (`segood-make-bdd`,
`tools/make_bdd_anomaly.py`).

    segood-make-bdd --bdd-root BDD100K --out data/bdd_anomaly [--force]

Output: OUT/images/{train,val,test}/<stem>.jpg, OUT/labels/{train,val,test}/<stem>.png,
OUT/manifest.json. Rules and remap: segood/data/make_bdd.py. Exit 0 on success, 2 on an error
you can fix (the message says how). Re-running after an interruption resumes safely.
"""

from __future__ import annotations

from collections.abc import Sequence

from segood.cli.app import command, parser
from segood.cli.options import add_progress


@command("segood-make-bdd", "rerun the same command to resume")
def main(argv: Sequence[str] | None = None) -> int:
    from segood.arguments import check_output_dir
    from segood.data.make_bdd import EXPECTED_COUNTS, build_bdd_anomaly

    p = parser(__doc__)
    p.add_argument("--bdd-root", required=True, help="BDD100K folder (images/ + labels/, or seg/)")
    p.add_argument("--out", required=True, help="output folder for BDD-Anomaly")
    p.add_argument(
        "--force", action="store_true", help="rebuild a finished output and delete stale files"
    )
    add_progress(p)
    args = p.parse_args(argv)
    check_output_dir(args.out, "--out")
    result = build_bdd_anomaly(args.bdd_root, args.out, args.force, not args.no_progress)
    source = f"the {result.layout} layout at {result.source_root}"
    print(f"BDD-Anomaly written to {args.out} (from {source})")
    for split, n in result.counts.items():
        print(f"  {split:<5} {n:>6,}   (real BDD100K 10K: {EXPECTED_COUNTS[split]:,})")
    if result.removed:
        print(f"  removed {len(result.removed)} stale file(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
