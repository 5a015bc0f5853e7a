"""Small synchronisation helpers of the session: waiting for a camera's frame or a tick's world
state, and holding Ctrl-C / SIGTERM while an actor is spawned and recorded."""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time


def wait_frame(q: queue.Queue, frame: int, timeout: float):
    """The image of `frame` from a camera's queue (older ones are skipped), or None."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            im = q.get(timeout=left)
        except queue.Empty:
            return None
        if im.frame == frame:
            return im
        if im.frame > frame:
            return None


def drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def tick_until_seen(world, timeout: float) -> None:
    """Tick until the client receives a tick's world state: its subscription to the state
    stream completes asynchronously, so the state of the first tick can be missed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            world.tick(1.0)
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT/SIGTERM until the block ends (main thread, POSIX); a no-op elsewhere.

    Ctrl-C between the server creating an actor and the session recording it would leave the
    actor behind; blocked signals are delivered when the block ends, after the record.
    """
    if (
        not hasattr(signal, "pthread_sigmask")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
