"""`segood-eval` (segood/cli/eval_caos.py): evaluate anomaly scorers on CAOS and the benchmarks."""

from segood.cli.eval_caos import main

if __name__ == "__main__":
    raise SystemExit(main())
