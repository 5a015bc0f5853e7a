"""`segood-demo` (segood/cli/demo.py): the whole pipeline end to end (make demo)."""

from segood.cli.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
