"""`segood-train` (segood/cli/train.py): train a model from an mmengine config."""

from segood.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())
