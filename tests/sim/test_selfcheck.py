"""`python -m sim.selfcheck` against the loopback server: a table that passes, and one that
fails for a prop the server shows as an empty actor."""

import subprocess

from tests.sim.helpers import PY, ROOT, env, settings, status


def _selfcheck(port, *extra):
    cmd = [PY, "-m", "sim.selfcheck", "--port", str(port), "--timeout", "10", *extra]
    return subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)


def _rows(stdout):
    lines = stdout.strip().splitlines()
    assert lines[0].split() == ["check", "result", "detail"]
    return {ln[:18].strip(): ln[18:].split()[0] for ln in lines[1:]}


def test_selfcheck_passes_on_the_loopback_server(server_port):
    found = settings(server_port)
    r = _selfcheck(server_port)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _rows(r.stdout) == {
        "version": "PASS",
        "prop id": "PASS",
        "overlapping props": "INFO",
        "traffic light": "PASS",
        "traffic sign": "PASS",
        "cleanup": "PASS",
        "settings restored": "PASS",
    }
    assert "refused" in r.stdout and "tags [6, 7]" in r.stdout  # a light: pole and light box
    assert status(server_port)["actors"] == [] and settings(server_port) == found
    assert "ERROR" not in r.stderr


def test_selfcheck_fails_for_an_empty_mesh(server_port):
    r = _selfcheck(server_port, "--mesh", "/Game/Missing/Couch.Couch")
    assert r.returncode == 1
    assert _rows(r.stdout)["prop id"] == "FAIL" and "wrong mesh path" in r.stdout
    assert status(server_port)["actors"] == []
