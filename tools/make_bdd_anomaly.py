"""`segood-make-bdd` (segood/cli/make_bdd.py): build BDD-Anomaly from BDD100K."""

from segood.cli.make_bdd import main

if __name__ == "__main__":
    raise SystemExit(main())
