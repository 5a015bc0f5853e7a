"""How every tool ends: its exit status and the one line a user sees when it stops early."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from segood.errors import SegoodError, user_message

Main = Callable[[Sequence[str] | None], int]
EXIT_USER_ERROR = 2  # argparse's usage errors exit 2 as well
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def command(name: str, resume_hint: str = "") -> Callable[[Main], Main]:
    """Decorate a tool's `main(argv) -> int`: a SegoodError (raised while parsing the arguments
    too) prints `error: MESSAGE` on stderr and returns 2; Ctrl-C prints `NAME: interrupted` (and
    `resume_hint`, e.g. how to continue) and returns 130. Anything else is a bug and keeps its
    traceback."""

    def decorate(main: Main) -> Main:
        @functools.wraps(main)
        def run(argv: Sequence[str] | None = None) -> int:
            try:
                return main(argv)
            except SegoodError as err:
                print(f"error: {user_message(err)}", file=sys.stderr)
                return EXIT_USER_ERROR
            except KeyboardInterrupt:
                hint = f"; {resume_hint}" if resume_hint else ""
                print(f"{name}: interrupted{hint}", file=sys.stderr)
                return EXIT_INTERRUPTED

        return run

    return decorate


def parser(doc: str | None, **kwargs) -> argparse.ArgumentParser:
    """An ArgumentParser described by the first paragraph of the tool's docstring, with
    `--version`."""
    description = " ".join((doc or "").split("\n\n")[0].split())
    p = argparse.ArgumentParser(description=description, **kwargs)
    p.add_argument("--version", action="version", version=f"segood {package_version()}")
    return p


def package_version() -> str:
    try:
        return version("segood")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, not installed
        return "(not installed)"
