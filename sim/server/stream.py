"""The sensor streaming side of the CARLA protocol.

A client connects to the port in a stream token and sends the 4-byte stream id; from then on
the server sends that stream's messages as `<u32 size><payload>`. Many streams share one port;
a stream can have several subscribers. A subscriber that stops reading (or hangs up) is
dropped, never waited on for more than `send_timeout` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from collections import defaultdict

from sim.server.rpc import accept_forever

log = logging.getLogger(__name__)


class StreamServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, send_timeout: float = 10.0) -> None:
        self.sock = socket.create_server((host, port))
        self.port = self.sock.getsockname()[1]
        self.send_timeout = send_timeout
        self._subs: dict[int, list[socket.socket]] = defaultdict(list)
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def serve_forever(self) -> None:
        accept_forever(self.sock, self._closed, self._accepted)

    def _accepted(self, conn: socket.socket) -> None:
        threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self.send_timeout)
            data = b""
            while len(data) < 4:
                chunk = conn.recv(4 - len(data))
                if not chunk:
                    conn.close()
                    return
                data += chunk
            (stream_id,) = struct.unpack("<I", data)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            conn.close()
            return
        log.debug("stream %d subscribed", stream_id)
        with self._lock:
            self._subs[stream_id].append(conn)

    def has_subscribers(self, stream_id: int) -> bool:
        with self._lock:
            return bool(self._subs.get(stream_id))

    def publish(self, stream_id: int, payload: bytes) -> int:
        """Send one message to every subscriber of `stream_id`; returns how many got it."""
        with self._lock:
            conns = list(self._subs.get(stream_id, ()))
        message = struct.pack("<I", len(payload)) + payload
        sent = 0
        for conn in conns:
            try:
                conn.sendall(message)
                sent += 1
            except OSError:
                self.drop(stream_id, conn)
        return sent

    def drop(self, stream_id: int, conn: socket.socket | None = None) -> None:
        """Forget one subscriber, or every subscriber of a stream (a destroyed sensor)."""
        with self._lock:
            conns = self._subs.get(stream_id, [])
            victims = [c for c in conns if conn is None or c is conn]
            for c in victims:
                conns.remove(c)
            if not conns:
                self._subs.pop(stream_id, None)
        for c in victims:
            with contextlib.suppress(OSError):
                c.close()

    def close(self) -> None:
        self._closed.set()
        self.sock.close()
        with self._lock:
            conns = [c for cs in self._subs.values() for c in cs]
            self._subs.clear()
        for c in conns:
            with contextlib.suppress(OSError):
                c.close()
