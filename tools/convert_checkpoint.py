"""`segood-convert` (segood/cli/convert.py): convert another codebase's PSPNet."""

from segood.cli.convert import main

if __name__ == "__main__":
    raise SystemExit(main())
