"""Subprocess helpers for the sim tests: a loopback server per test module, raw RPC calls.

The carla client can crash on a malformed reply, so it only ever runs in a child process; the
tests talk to the server directly with msgpack when they need to look inside it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sim.server.rpc import call

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["PYTHONUNBUFFERED"] = "1"
    return e


def start_server(
    port: int, idle: float = 90.0, towns: str | None = None, *extra: str
) -> subprocess.Popen:
    cmd = [PY, "-m", "sim.server", "--port", str(port), "--idle-timeout", str(idle), *extra]
    if towns:
        cmd += ["--towns", towns]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server died: {proc.stdout.read().decode()}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rpc(port: int, method: str, *args, timeout: float = 10.0):
    """One raw msgpack-rpc call with CARLA's metadata prefix; returns (error, result)."""
    return call("127.0.0.1", port, method, *args, timeout=timeout)


CLIENT_PRELUDE = """
import json, sys
import carla
client = carla.Client("127.0.0.1", {port}, worker_threads=1)
client.set_timeout(10.0)
"""


def run_client(port: int, body: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run `body` with the real carla client (`client` connected to `port`) in a child
    process; the client can crash on a bad reply, the test must not."""
    code = CLIENT_PRELUDE.format(port=port) + textwrap.dedent(body)
    return subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=timeout
    )


def settings(port: int) -> list:
    """The server's episode settings as the wire carries them (11 fields)."""
    err, res = rpc(port, "get_episode_settings")
    assert err is None, err
    return res[0][1]


CUSTOM_SETTINGS = [False, False, [True, 0.1], False, 0.02, 7, 0.0, True, 1500.0, 900.0, False]


def status(port: int) -> dict:
    err, res = rpc(port, "segood_status")
    assert err is None, err
    return res[0][1]


def generate_command(port: int, out: Path, *extra: str) -> list[str]:
    """`python -m sim.generate` at test size against the server on `port`."""
    return [PY, "-m", "sim.generate", "--port", str(port), "--out", str(out),
            "--width", "96", "--height", "64", "--timeout", "10", "--no-progress",
            *extra]  # fmt: skip


def generate(
    port: int, out: Path, *extra: str, timeout: float = 120.0, check: bool = True
) -> subprocess.CompletedProcess:
    cmd = generate_command(port, out, *extra)
    r = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"generator failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def frames(out: Path, kind: str = "metadata") -> list[str]:
    return sorted(
        str(p.relative_to(out))
        for p in Path(out).rglob("*")
        if p.is_file() and f"/{kind}/" in str(p)
    )
