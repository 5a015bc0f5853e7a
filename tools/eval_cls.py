"""`segood-eval-cls` (segood/cli/eval_cls.py): classification OOD benchmarks."""

from segood.cli.eval_cls import main

if __name__ == "__main__":
    raise SystemExit(main())
