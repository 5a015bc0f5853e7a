"""The loopback server under abuse: every malformed request is answered, a client's mistakes are
one log line, unfinished or oversized requests are cut off, memory stays bounded."""

import contextlib
import socket
import struct
import threading
import time
from pathlib import Path

import msgpack
import pytest

from sim.server.rpc import RpcServer, call
from tests.sim.helpers import free_port, rpc, start_server, stop_server


def _raw(port: int, payload: bytes, timeout: float = 5.0) -> list:
    """Send raw bytes; the decoded replies until the server closes or goes quiet."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        unpacker = msgpack.Unpacker(raw=False)
        with contextlib.suppress(TimeoutError, ConnectionError):
            while data := s.recv(1 << 16):
                unpacker.feed(data)
                replies += list(unpacker)
                if replies:
                    s.settimeout(0.3)
    return replies


def test_a_map_with_a_dict_key_gets_an_error_reply(server_port):
    # [0, 1, "get_sensor_token", [[false], {{"a": 1}: 1}]]: a key Python cannot hash
    request = b"\x94\x00\x01\xb0get_sensor_token\x92\x91\xc2\x81\x81\xa1a\x01\x01"
    (reply,) = _raw(server_port, request)
    assert reply[0] == 1 and reply[1] == 1 and "bad arguments" in reply[2]
    assert rpc(server_port, "version")[1] == [[1, "0.9.16"]]


def test_argument_errors_are_one_log_line():
    port = free_port()
    proc = start_server(port)
    try:
        err, _ = rpc(port, "get_sensor_token", "not a number")
        assert "bad arguments for 'get_sensor_token'" in err
    finally:
        stop_server(proc)
    log = proc.stdout.read().decode()
    assert "bad arguments for get_sensor_token" in log and "Traceback" not in log


@pytest.fixture
def strict_server():
    """An in-process rpc server with a short request timeout and a 64 KiB request limit."""
    server = RpcServer({"echo": lambda x: x}, port=0, request_timeout=0.5, max_request=1 << 16)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.port
    server.close()


def test_an_unfinished_request_is_answered_and_closed(strict_server):
    # a bin32 header announcing 4 GiB, then nothing
    t0 = time.monotonic()
    (reply,) = _raw(strict_server, b"\x94\x00\x07\xa4echo\xc6\xff\xff\xff\xff", timeout=10)
    assert "incomplete after 0.5 s" in reply[2] and time.monotonic() - t0 < 5
    assert call("127.0.0.1", strict_server, "echo", 3) == (None, 3)


def test_an_oversized_request_is_answered_and_closed(strict_server):
    big = msgpack.packb([0, 1, "echo", [[False], b"x" * (1 << 17)]])
    (reply,) = _raw(strict_server, big)
    assert "request larger than 65536 bytes" in reply[2]
    idle = socket.create_connection(("127.0.0.1", strict_server))  # idle clients are kept
    time.sleep(1.0)
    idle.sendall(msgpack.packb([0, 9, "echo", [[False], 1]]))
    assert msgpack.unpackb(idle.recv(100)) == [1, 9, None, 1]
    idle.close()


def _memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_large_senders_do_not_grow_the_server():
    port = free_port()
    proc = start_server(port)
    payload = b"\xdb" + struct.pack(">I", 60 << 20) + b"y" * (60 << 20)  # a str32 of 60 MiB

    def send(out: list) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with contextlib.suppress(OSError):
                s.sendall(payload)
            with contextlib.suppress(OSError):
                out.append(s.recv(4096))

    try:
        before = _memory_mb(proc.pid, "VmRSS")
        replies: list = []
        threads = [threading.Thread(target=send, args=(replies,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        peak = _memory_mb(proc.pid, "VmHWM")
        assert len(replies) == 3 and all(b"request larger than" in r for r in replies)
        assert peak - before < 40, (before, peak)  # three 4 MiB buffers at most, not 180 MB
        assert rpc(port, "version")[1] == [[1, "0.9.16"]]
    finally:
        stop_server(proc)
