"""msgpack-rpc (the rpclib dialect that LibCarla uses) over TCP: framing and dispatch.

A request is `[0, msgid, method, params]` (a notification `[2, method, params]`); the reply is
`[1, msgid, error, result]`. LibCarla 0.9.16 prepends call metadata (`[is_async]`) to `params`;
handlers receive only the real arguments. Anything a client sends that is not a well-formed
request is answered with an rpc error (or the connection is closed when the bytes are not
msgpack at all); a handler that raises answers an error too. Nothing a client sends can stop
the server.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import msgpack

log = logging.getLogger(__name__)

REQUEST, RESPONSE, NOTIFY = 0, 1, 2
MAX_BUFFER = 64 * 1024 * 1024  # a request larger than this is refused (closes the connection)

Handler = Callable[..., Any]


def accept_forever(sock: socket.socket, closed: threading.Event, on_connection) -> None:
    """Accept connections on `sock` until `closed` is set (or the socket is closed)."""
    sock.settimeout(0.5)
    while not closed.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        on_connection(conn)


class RpcError(Exception):
    """Raised by a handler to answer with a plain rpclib error (not a CARLA Response)."""


def split_params(params: Any) -> tuple[bool, list]:
    """(is_async, real arguments) from LibCarla's params: `[[is_async], arg1, ...]`."""
    if not isinstance(params, list | tuple):
        raise RpcError("params must be an array")
    if params and isinstance(params[0], list | tuple) and len(params[0]) <= 1:
        meta = params[0]
        return bool(meta[0]) if meta else False, list(params[1:])
    return False, list(params)


def dispatch(handlers: dict[str, Handler], message: Any) -> tuple[int | None, Any, Any]:
    """Run one decoded message; (msgid or None for notifications, error, result)."""
    if not isinstance(message, list | tuple) or not message:
        return 0, "malformed request: not a msgpack-rpc array", None
    kind = message[0]
    if kind == REQUEST and len(message) == 4 and isinstance(message[1], int):
        msgid, method, params = message[1], message[2], message[3]
    elif kind == NOTIFY and len(message) == 3:
        msgid, method, params = None, message[1], message[2]
    else:
        msgid = message[1] if len(message) > 1 and isinstance(message[1], int) else 0
        return msgid, "malformed request: expected [0, msgid, method, params]", None
    if isinstance(method, bytes):
        method = method.decode("utf-8", "replace")
    log.debug("call %s", method)
    handler = handlers.get(method) if isinstance(method, str) else None
    if handler is None:
        return msgid, f"rpclib: server could not find function '{method}'", None
    try:
        _, args = split_params(params)
        return msgid, None, handler(*args)
    except RpcError as exc:
        return msgid, str(exc), None
    except TypeError as exc:
        return msgid, f"rpclib: bad arguments for '{method}': {exc}", None
    except Exception as exc:  # a handler bug must never take the server down
        log.exception("handler %s failed", method)
        return msgid, f"rpclib: '{method}' failed: {type(exc).__name__}: {exc}", None


class RpcServer:
    """Threaded msgpack-rpc server on one (loopback) address; `handlers` maps name -> function.

    `lock` serializes all handler calls (the world is single-threaded); `on_activity` is called
    on every message (idle tracking).
    """

    def __init__(
        self,
        handlers: dict[str, Handler],
        host: str = "127.0.0.1",
        port: int = 2000,
        lock: threading.Lock | None = None,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.handlers = handlers
        self.lock = lock or threading.Lock()
        self.on_activity = on_activity or (lambda: None)
        self.sock = socket.create_server((host, port), reuse_port=False)
        self.port = self.sock.getsockname()[1]
        self._closed = threading.Event()
        self._conns: set[socket.socket] = set()

    def serve_forever(self) -> None:
        accept_forever(self.sock, self._closed, self._accepted)

    def _accepted(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conns.add(conn)
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        for s in [self.sock, *self._conns]:
            with contextlib.suppress(OSError):
                s.close()

    def _serve(self, conn: socket.socket) -> None:
        unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=False, max_buffer_size=MAX_BUFFER, unicode_errors="replace"
        )
        try:
            while not self._closed.is_set():
                data = conn.recv(1 << 16)
                if not data:
                    return
                self.on_activity()
                unpacker.feed(data)
                for message in unpacker:
                    with self.lock:
                        msgid, error, result = dispatch(self.handlers, message)
                    if msgid is not None:
                        conn.sendall(self._pack(msgid, error, result))
        except (
            msgpack.ExtraData,
            msgpack.FormatError,
            msgpack.StackError,
            ValueError,
            msgpack.BufferFull,
        ) as exc:
            # bytes that are not msgpack: say so, then hang up (framing is lost)
            with contextlib.suppress(OSError):
                conn.sendall(msgpack.packb([RESPONSE, 0, f"malformed request: {exc}", None]))
        except OSError:
            pass
        finally:
            self._conns.discard(conn)
            conn.close()

    @staticmethod
    def _pack(msgid: int, error: Any, result: Any) -> bytes:
        try:
            return msgpack.packb([RESPONSE, msgid, error, result], use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            log.exception("cannot encode the reply to %s", msgid)
            return msgpack.packb([RESPONSE, msgid, f"server could not encode reply: {exc}", None])
