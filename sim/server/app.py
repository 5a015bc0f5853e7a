"""Run the loopback server: RPC + streaming on 127.0.0.1, an async ticker, idle shutdown."""

from __future__ import annotations

import logging
import signal
import threading
import time

from sim.server.handlers import make_handlers
from sim.server.rpc import RpcServer
from sim.server.stream import StreamServer
from sim.server.world import World

log = logging.getLogger("sim.server")
HOST = "127.0.0.1"  # loopback only, by design


class LoopbackServer:
    def __init__(
        self,
        port: int = 2000,
        streaming_port: int = 0,
        idle_timeout: float = 600.0,
        towns: tuple[str, ...] | None = None,
        pose_as_carla: bool = False,
        **world_options,
    ) -> None:
        self.streams = StreamServer(HOST, streaming_port)
        self.world = World(self.streams, **({"towns": towns} if towns else {}), **world_options)
        self.lock = threading.Lock()
        self.last_activity = time.monotonic()
        self.stop_event = threading.Event()
        handlers = make_handlers(self.world, self.stop_event.set, pose_as_carla)
        self.rpc = RpcServer(handlers, HOST, port, self.lock, self._touch)
        self.idle_timeout = idle_timeout

    def _touch(self) -> None:
        self.last_activity = time.monotonic()

    def _async_ticker(self) -> None:
        """Without synchronous mode the world runs by itself (one frame every 0.1 s)."""
        while not self.stop_event.wait(0.1):
            with self.lock:
                if not self.world.settings["synchronous_mode"]:
                    self.world.tick()

    def serve(self) -> None:
        threads = [
            threading.Thread(target=self.rpc.serve_forever, daemon=True),
            threading.Thread(target=self.streams.serve_forever, daemon=True),
            threading.Thread(target=self._async_ticker, daemon=True),
        ]
        for t in threads:
            t.start()
        log.info(
            "CARLA 0.9.16 loopback server on %s:%d (streams on %d), towns %s",
            HOST,
            self.rpc.port,
            self.streams.port,
            ", ".join(self.world.towns),
        )
        while not self.stop_event.wait(0.5):
            idle = time.monotonic() - self.last_activity
            if self.idle_timeout > 0 and idle > self.idle_timeout:
                log.info("idle for %.0f s, stopping", idle)
                break
        self.close()

    def close(self) -> None:
        self.stop_event.set()
        self.rpc.close()
        self.streams.close()


def run(port: int, streaming_port: int, idle_timeout: float, towns=None, **options) -> None:
    server = LoopbackServer(port, streaming_port, idle_timeout, towns, **options)

    def _stop(signum, _frame):
        log.info("signal %d, stopping", signum)
        server.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.serve()
