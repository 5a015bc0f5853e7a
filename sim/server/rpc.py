"""msgpack-rpc (the rpclib dialect that LibCarla uses) over TCP: framing and dispatch.

A request is `[0, msgid, method, params]` (a notification `[2, method, params]`); the reply is
`[1, msgid, error, result]`. LibCarla 0.9.16 prepends call metadata (`[is_async]`) to `params`;
handlers receive only the real arguments. Every malformed request gets an rpc error reply:
well-formed msgpack that is not a request, or arguments a handler cannot use, keep the
connection; bytes that are not msgpack, a request over `MAX_REQUEST` bytes or one left
unfinished for `REQUEST_TIMEOUT` seconds are answered, then the connection is closed (framing is
lost). At most `MAX_CONNECTIONS` clients are served at once, so memory stays bounded. A client's
mistakes are logged as one line; only a handler bug logs a traceback. Nothing a client sends
can stop the server.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack

log = logging.getLogger(__name__)

REQUEST, RESPONSE, NOTIFY = 0, 1, 2
MAX_REQUEST = 4 * 1024 * 1024  # bytes; LibCarla's largest requests are a few kilobytes
REQUEST_TIMEOUT = 10.0  # seconds a started request may take to arrive in full
MAX_CONNECTIONS = 32
POLL = 0.5  # seconds between checks of an idle connection
SEND_TIMEOUT = 30.0  # seconds a reply may take to go out (a client that stops reading is dropped)
# what a handler raises when the client sent arguments it cannot use (not a server bug)
ARGUMENT_ERRORS = (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError)

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
    except ARGUMENT_ERRORS as exc:
        log.warning("bad arguments for %s: %s: %s", method, type(exc).__name__, exc)
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
        request_timeout: float = REQUEST_TIMEOUT,
        max_request: int = MAX_REQUEST,
    ) -> None:
        self.handlers = handlers
        self.request_timeout, self.max_request = request_timeout, max_request
        self.lock = lock or threading.Lock()
        self.on_activity = on_activity or (lambda: None)
        self.sock = socket.create_server((host, port), reuse_port=False)
        self.port = self.sock.getsockname()[1]
        self._closed = threading.Event()
        self._conns: set[socket.socket] = set()

    def serve_forever(self) -> None:
        accept_forever(self.sock, self._closed, self._accepted)

    def _accepted(self, conn: socket.socket) -> None:
        if len(self._conns) >= MAX_CONNECTIONS:
            with contextlib.suppress(OSError):
                conn.sendall(_error_reply(0, f"server busy: {MAX_CONNECTIONS} clients connected"))
            conn.close()
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(POLL)
        self._conns.add(conn)
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        for s in [self.sock, *self._conns]:
            with contextlib.suppress(OSError):
                s.close()

    def _serve(self, conn: socket.socket) -> None:
        # maps decode to pair lists: a map key that Python cannot hash is an argument error
        unpacker = msgpack.Unpacker(
            raw=False,
            strict_map_key=False,
            object_pairs_hook=list,
            max_buffer_size=self.max_request,
            unicode_errors="replace",
        )
        fed = done = 0  # bytes fed to the unpacker; the end of the last complete request
        started = 0.0  # when the pending request began
        try:
            while not self._closed.is_set():
                try:
                    data = conn.recv(1 << 16)
                except TimeoutError:
                    late = time.monotonic() - started > self.request_timeout
                    if fed > done and late:
                        message = f"incomplete after {self.request_timeout:g} s"
                        _send(conn, _error_reply(0, f"malformed request: {message}"))
                        return
                    continue
                if not data:
                    return
                self.on_activity()
                if fed == done:
                    started = time.monotonic()
                unpacker.feed(data)
                fed += len(data)
                for message in unpacker:
                    done, started = unpacker.tell(), time.monotonic()
                    with self.lock:
                        msgid, error, result = dispatch(self.handlers, message)
                    if msgid is not None:
                        _send(conn, self._pack(msgid, error, result))
        except msgpack.BufferFull:
            with contextlib.suppress(OSError):
                _send(conn, _error_reply(0, f"request larger than {self.max_request} bytes"))
        except OSError:
            pass
        except Exception as exc:  # bytes that are not msgpack: say so, then hang up
            with contextlib.suppress(OSError):
                _send(conn, _error_reply(0, f"malformed request: {exc}"))
        finally:
            self._conns.discard(conn)
            conn.close()

    @staticmethod
    def _pack(msgid: int, error: Any, result: Any) -> bytes:
        try:
            return msgpack.packb([RESPONSE, msgid, error, result], use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            log.exception("cannot encode the reply to %s", msgid)
            return _error_reply(msgid, f"server could not encode reply: {exc}")


def _send(conn: socket.socket, data: bytes) -> None:
    conn.settimeout(SEND_TIMEOUT)
    try:
        conn.sendall(data)
    finally:
        conn.settimeout(POLL)


def _error_reply(msgid: int, message: str) -> bytes:
    return msgpack.packb([RESPONSE, msgid, message, None])


def call(host: str, port: int, method: str, *args, timeout: float = 5.0):
    """One msgpack-rpc call with LibCarla's metadata prefix; returns (error, result).

    For tests and probes; the generator itself talks to servers through the carla client.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(msgpack.packb([REQUEST, 1, method, [[False], *args]]))
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        while True:
            data = sock.recv(1 << 20)
            if not data:
                raise ConnectionError(f"{host}:{port} closed the connection")
            unpacker.feed(data)
            for message in unpacker:
                return message[2], message[3]
