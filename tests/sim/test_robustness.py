"""Resume after kill -9, cleanup on interrupts, server down or crashing mid-run."""

import signal
import subprocess
import time

import pytest

from segood.data import StreetHazards
from tests.sim.helpers import (
    CUSTOM_SETTINGS,
    ROOT,
    env,
    frames,
    free_port,
    generate,
    generate_command,
    rpc,
    settings,
    start_server,
    status,
    stop_server,
)

pytestmark = pytest.mark.slow


def _spawn_generator(port, out, *extra):
    cmd = generate_command(port, out, *extra)
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_frames(out, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while len(frames(out)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_resume_after_kill_9(server_port, tmp_path):
    original = settings(server_port)
    rpc(server_port, "set_episode_settings", CUSTOM_SETTINGS)  # what the server is found with
    try:
        _kill_and_resume(server_port, tmp_path / "ds")
    finally:
        rpc(server_port, "set_episode_settings", original)


def _kill_and_resume(server_port, out):
    args = ("--split", "test", "--frames", "8", "--anomalies", "2")
    proc = _spawn_generator(server_port, out, *args)
    _wait_frames(out, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # what an unclean exit leaves: synchronous mode, the cameras (and props) on the server
    left = status(server_port)
    assert left["synchronous"] and len(left["actors"]) >= 3
    assert list(out.glob(".segood_sim_server_*"))
    # leave the debris a kill can leave: a temporary and an uncommitted image
    town_dir = next((out / "test/images/test").iterdir())
    (town_dir / ".000007.png.tmp-99").write_bytes(b"half")
    (town_dir / "000006.png").write_bytes(b"uncommitted")
    r = generate(server_port, out, *args)
    assert "removed" in r.stderr
    assert f"destroyed {len(left['actors'])} leftover actor(s)" in r.stderr
    assert "original settings will be restored" in r.stderr
    assert settings(server_port) == CUSTOM_SETTINGS and not list(out.glob(".segood_sim_server_*"))
    names = frames(out)
    assert len(names) == 8 and len(set(names)) == 8
    assert len(frames(out, "images")) == 8 and len(frames(out, "annotations")) == 8
    assert not list(out.rglob(".*tmp*"))
    assert len(StreetHazards(out, "test")) == 8
    before = {n: (out / n).stat().st_mtime for n in names}
    generate(server_port, out, *args)  # a finished split is left as it is
    assert {n: (out / n).stat().st_mtime for n in names} == before
    assert status(server_port)["actors"] == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_destroys_actors(server_port, tmp_path, sig):
    proc = _spawn_generator(
        server_port, tmp_path, "--split", "test", "--frames", "50", "--anomalies", "3"
    )
    _wait_frames(tmp_path, 1, proc)
    assert status(server_port)["actors"]  # cameras (and props) exist mid-run
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err
    assert status(server_port)["actors"] == []
    assert not status(server_port)["synchronous"]


def test_no_server_is_a_clear_error(tmp_path):
    port = free_port()
    t0 = time.monotonic()
    r = generate(
        port,
        tmp_path,
        "--split",
        "train",
        "--frames",
        "1",
        "--retries",
        "1",
        "--timeout",
        "1",
        check=False,
    )
    assert r.returncode == 2
    assert f"cannot reach a CARLA server at 127.0.0.1:{port}" in r.stderr
    assert "retry 1/1" in r.stderr and time.monotonic() - t0 < 30


def test_server_crash_mid_run_reconnects(tmp_path):
    port = free_port()
    server = start_server(port, towns="Town01,Town02,Town03,Town04")
    out = tmp_path / "ds"
    args = ("--split", "validation", "--frames", "6", "--retries", "4", "--timeout", "3")
    proc = _spawn_generator(port, out, *args)
    try:
        _wait_frames(out, 2, proc)
        server.kill()  # the simulator crashes
        server.wait()
        time.sleep(1.0)
        server = start_server(port, towns="Town01,Town02,Town03,Town04")
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        assert "reconnecting" in err
        assert len(frames(out)) == 6 and len(StreetHazards(out, "validation")) == 6
        assert status(port)["actors"] == []
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_server(server)
