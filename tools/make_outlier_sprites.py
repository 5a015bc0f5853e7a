"""`segood-make-sprites` (segood/cli/make_sprites.py): render outlier-exposure sprites."""

from segood.cli.make_sprites import main

if __name__ == "__main__":
    raise SystemExit(main())
