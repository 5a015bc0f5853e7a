"""Progress for long jobs, wherever their output goes: a tqdm bar on a terminal, plain lines in
a log file or CI output (where tqdm would draw one endless line of carriage returns).

    for item in show_progress(items, desc="eval", unit="img"): ...
    bar = show_progress(total=240, initial=resumed_at, desc="train"); bar.update(1); bar.close()

A line reads `train: 120/240 (50%), 2.10 it/s, elapsed 0:57, eta 0:57, loss=0.95`. Lines come
every `elapsed / 10` seconds (at least `min_interval`, at most `max_interval`: frequent at the
start, about one a minute in a long run) and at the end, so a job of a few seconds prints one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


def show_progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    initial: int = 0,
    disable: bool = False,
    file: TextIO | None = None,
    min_interval: float = 5.0,
    max_interval: float = 60.0,
):
    """A tqdm bar if `file` (default stderr) is a terminal, else a `ProgressLines`."""
    file = sys.stderr if file is None else file
    if disable or _is_terminal(file):
        from tqdm import tqdm

        return tqdm(
            iterable,
            total=total,
            desc=desc,
            unit=unit,
            initial=initial,
            disable=disable,
            file=file,
            dynamic_ncols=True,
        )
    return ProgressLines(iterable, total, desc, unit, initial, file, min_interval, max_interval)


def _is_terminal(file: TextIO) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressLines:
    """The part of tqdm's interface segood uses (iterate, update, set_postfix, close), printing
    a plain progress line now and then instead of redrawing a bar."""

    def __init__(
        self,
        iterable: Iterable | None,
        total: int | None,
        desc: str,
        unit: str,
        initial: int,
        file: TextIO,
        min_interval: float,
        max_interval: float,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = initial + len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = self.initial = initial
        self.file, self.min_interval, self.max_interval = file, min_interval, max_interval
        self.postfix = ""
        self.start = time.monotonic()
        self._next_line = self.start + min_interval
        self._printed_at: int | None = None
        self._closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return self.total or 0

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now >= self._next_line:
            self._print(now)
            gap = min(max((now - self.start) / 10, self.min_interval), self.max_interval)
            self._next_line = now + gap

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kw) -> None:
        items = {**(ordered_dict or {}), **kw}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._printed_at != self.n and self.n > self.initial:
            self._print(time.monotonic())

    def line(self, now: float) -> str:
        elapsed = now - self.start
        done = self.n - self.initial
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.n}/{self.total}" if self.total else f"{self.n}"]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        parts.append(_speed(rate, self.unit))
        parts.append(f"elapsed {_clock(elapsed)}")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"eta {_clock((self.total - self.n) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        return f"{self.desc}: " * bool(self.desc) + ", ".join(parts)

    def _print(self, now: float) -> None:
        print(self.line(now), file=self.file, flush=True)
        self._printed_at = self.n


def _speed(rate: float, unit: str) -> str:
    if rate >= 0.1:
        return f"{rate:.2f} {unit}/s"
    return f"{1 / rate:.1f} s/{unit}" if rate > 0 else f"- {unit}/s"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
