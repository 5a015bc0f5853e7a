"""`segood-check-data` (segood/cli/check_data.py): report every problem of a dataset."""

from segood.cli.check_data import main

if __name__ == "__main__":
    raise SystemExit(main())
