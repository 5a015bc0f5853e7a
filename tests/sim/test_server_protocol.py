"""The loopback server without the carla client: framing, errors, loopback-only, shutdown."""

import shutil
import socket
import struct
import subprocess
import time

import msgpack
import pytest

from sim.server import protocol
from tests.sim.helpers import free_port, rpc, start_server, status, stop_server


def test_basic_calls(server_port):
    assert rpc(server_port, "version") == (None, [[1, "0.9.16"]])
    err, res = rpc(server_port, "get_available_maps")
    assert err is None and "/Game/Carla/Maps/Town05" in res[0][1]
    err, res = rpc(server_port, "get_episode_info")
    episode, token = res[0][1]
    assert isinstance(episode, int) and len(token[0]) == 24
    _sid, port, proto, family = struct.unpack_from("<IHBB", token[0])
    assert (proto, family) == (1, 1) and port > 0


def test_malformed_requests_get_errors_and_server_survives(server_port):
    assert rpc(server_port, "no_such_call")[0].startswith("rpclib: server could not find")
    err, res = rpc(server_port, "spawn_actor", "garbage", 3)  # a CARLA error response
    assert err is None and res[0][0] == 0 and "actor description" in res[0][1][0]
    err, _ = rpc(server_port, "destroy_actor")  # missing argument
    assert "bad arguments" in err
    err, res = rpc(server_port, "set_weather_parameters", [1, 2])
    assert res == [[True, ["weather must be an array of 14 numbers"]]]
    err, res = rpc(server_port, "set_episode_settings", {"a": 1})
    assert res[0][0] == 0
    with socket.create_connection(("127.0.0.1", server_port), timeout=5) as s:
        s.sendall(msgpack.packb([7, "x"]))  # valid msgpack, not a request
        reply = msgpack.unpackb(s.recv(4096))
        assert reply[0] == 1 and "malformed" in reply[2]
    with socket.create_connection(("127.0.0.1", server_port), timeout=5) as s:
        s.sendall(b"\xc1\xc1\xc1 not msgpack")  # 0xc1 is never valid msgpack
        data = s.recv(4096)
        assert b"malformed" in data
    assert rpc(server_port, "version")[1] == [[1, "0.9.16"]]


def test_spawn_collision_and_bad_camera_are_errors(server_port):
    cam = [0, "sensor.camera.rgb", [["image_size_x", 2, "99999"]]]
    _, res = rpc(server_port, "spawn_actor", cam, [[0, 0, 2], [0, 0, 0]])
    assert res[0][0] == 0 and "image size" in res[0][1][0]
    _, res = rpc(server_port, "spawn_actor", [0, "vehicle.nope", []], [[0, 0, 2], [0, 0, 0]])
    assert "not found" in res[0][1][0]


def test_listens_on_loopback_only_and_stops_on_request():
    port = free_port()
    proc = start_server(port, idle=60)
    try:
        if shutil.which("ss"):
            out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
            lines = [ln for ln in out.splitlines() if f":{port} " in ln]
            assert lines and all("127.0.0.1:" in ln for ln in lines)
        host_ip = socket.gethostbyname(socket.gethostname())
        if host_ip != "127.0.0.1":  # not reachable on another interface
            with pytest.raises(OSError):
                socket.create_connection((host_ip, port), timeout=1).close()
        assert status(port)["actors"] == []
        rpc(port, "segood_shutdown")
        proc.wait(10)
        assert proc.returncode == 0
    finally:
        stop_server(proc)


def test_stops_when_idle_and_on_sigterm():
    port = free_port()
    proc = start_server(port, idle=1.5)
    t0 = time.monotonic()
    proc.wait(15)
    assert proc.returncode == 0 and time.monotonic() - t0 < 10
    proc = start_server(port, idle=60)
    proc.terminate()
    assert proc.wait(10) == 0


def test_payload_layouts():
    t = protocol.Transform(1, 2, 3, 4, 5, 6)
    img = protocol.image_payload(
        protocol.SENSOR_RGB, 7, 0.5, t, 90.0, __import__("numpy").zeros((2, 3, 4), "uint8")
    )
    assert len(img) == 48 + 12 + 24
    assert struct.unpack_from("<QQd6f", img) == (13, 7, 0.5, 1, 2, 3, 4, 5, 6)
    ep = protocol.episode_payload(3, 7, 0.5, 0.05, [(9, t)])
    assert len(ep) == 48 + 36 + 119
    assert struct.unpack_from("<IB6f", ep, 84) == (9, 1, 1, 2, 3, 4, 5, 6)
