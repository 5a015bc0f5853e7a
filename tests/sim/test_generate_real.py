"""What a real CARLA server needs, through the real client and the loopback server: datasets that
grow, frames that are the same in any run, masks that survive colliding ids, settled images, a
server left as found, checked destroys, curated anomaly sets, wrapped instance ids."""

import json

import pytest

from tests.sim.helpers import (
    CUSTOM_SETTINGS,
    frames,
    free_port,
    generate,
    rpc,
    settings,
    start_server,
    status,
    stop_server,
)

pytestmark = pytest.mark.slow
VOLATILE = {"actor_id", "instance_id", "carla_frame"}  # a server's counters, not the scene


def _files(out, kind):
    return {n: (out / n).read_bytes() for n in frames(out, kind)}


def _metas(out):
    return {n: json.loads((out / n).read_text()) for n in frames(out)}


def _scene(meta):
    """A frame's metadata without the server's counters."""
    props = [{k: v for k, v in p.items() if k not in VOLATILE} for p in meta["props"]]
    return {**{k: v for k, v in meta.items() if k not in VOLATILE}, "props": props}


def _clean(stderr):
    return "ERROR" not in stderr and "WARNING" not in stderr and "Traceback" not in stderr


def test_a_dataset_grows_to_what_one_run_makes(server_port, tmp_path):
    grown, whole, odd = tmp_path / "grown", tmp_path / "whole", tmp_path / "odd"
    args = ("--split", "test", "--anomalies", "2", "--seed", "3")
    generate(server_port, grown, *args, "--frames", "3")
    before = {n: (grown / n).stat().st_mtime_ns for n in frames(grown, "images")}
    r = generate(server_port, grown, *args, "--frames", "5")
    assert "removed" not in r.stderr and _clean(r.stderr), r.stderr
    assert {n: (grown / n).stat().st_mtime_ns for n in before} == before  # 0..2 not redone
    r = generate(server_port, whole, *args, "--frames", "5")
    assert _clean(r.stderr), r.stderr  # no client noise on a normal run
    for kind in ("images", "annotations"):  # byte for byte, though the server's frame
        assert _files(grown, kind) == _files(whole, kind)  # counter and actor ids differ
    metas = _metas(whole)
    assert {n: _scene(m) for n, m in _metas(grown).items()} == {
        n: _scene(m) for n, m in metas.items()
    }
    assert any(m["weather"]["precipitation"] > 0 for m in metas.values())  # rain noise seeded
    assert sum(m["anomaly_pixels"] > 0 for m in metas.values()) >= 4
    assert all(m["id_disagreement_pixels"] == 0 for m in metas.values())
    # the same frames on a server whose town objects show actor-like ids (engine-id fallback)
    port = free_port()
    proc = start_server(port, 90.0, None, "--colliding-engine-ids")
    try:
        generate(port, odd, *args, "--frames", "5")
    finally:
        stop_server(proc)
    assert _files(odd, "annotations") == _files(whole, "annotations")  # labels did not move
    assert sum(m["id_disagreement_pixels"] for m in _metas(odd).values()) > 0  # and it saw why


def test_settled_images_and_the_server_left_as_found(server_port, tmp_path):
    original = settings(server_port)
    rpc(server_port, "set_episode_settings", CUSTOM_SETTINGS)
    try:
        ticks = status(server_port)["tick_cues"]
        r = generate(server_port, tmp_path, "--split", "validation", "--frames", "2",
                     "--warmup-ticks", "3", "--exposure", "manual")  # fmt: skip
        assert _clean(r.stderr), r.stderr
        st = status(server_port)
        # 2 frames x (3 warm-up + 1 kept) ticks, plus those that subscribe the cameras
        assert st["tick_cues"] - ticks >= 8
        metas = sorted(_metas(tmp_path).values(), key=lambda m: m["frame_index"])
        assert [m["warmup_ticks"] for m in metas] == [3, 3]
        assert metas[1]["carla_frame"] - metas[0]["carla_frame"] == 4  # one town: back to back
        rgb = st["camera_attributes"]["sensor.camera.rgb"]
        assert (rgb["motion_blur_intensity"], rgb["exposure_mode"]) == ("0.0", "manual")
        assert rgb["role_name"] == "segood_sim"
        assert st["actors"] == [] and settings(server_port) == CUSTOM_SETTINGS
        assert not list(tmp_path.glob(".segood_sim_server_*"))  # clean exit: nothing to recover
    finally:
        rpc(server_port, "set_episode_settings", original)


def test_failed_destroys_are_retried_then_reported(server_port, tmp_path):
    args = ("--split", "test", "--frames", "1", "--anomalies", "2", "--retries", "1")
    rpc(server_port, "segood_fail_destroys", 1)  # (a count of DestroyActor commands)
    r = generate(server_port, tmp_path / "a", *args)
    assert "could not destroy" not in r.stderr and _clean(r.stderr)  # a retry did it
    rpc(server_port, "segood_fail_destroys", 6)  # every attempt for both props fails
    r = generate(server_port, tmp_path / "b", *args)
    assert "could not destroy 2 actor(s) after 3 attempts" in r.stderr
    assert "injected failure" in r.stderr and "reconnecting" in r.stderr
    assert r.returncode == 0 and status(server_port)["actors"] == []  # redone, then cleaned
    assert len(frames(tmp_path / "b")) == 1


def test_curated_anomaly_sets_and_wrapped_ids_on_a_real_server(tmp_path):
    port = free_port()
    proc = start_server(port, 90.0, None, "--pose-as-carla", "--first-actor-id", "65530")
    out = tmp_path / "ds"
    test = ("--split", "test", "--frames", "2", "--anomalies", "2")
    listed = tmp_path / "anomalies.txt"
    listed.write_text("# hand-picked\nstatic.prop.giantball_m\nstatic.prop.ziggurat_l\n")
    meshes = tmp_path / "meshes.txt"
    meshes.write_text("/Game/Segood/Props/egg_m.egg_m huge 0.5\n"
                      "/Game/Segood/Props/mushroom_l.mushroom_l tiny\n")  # fmt: skip
    try:
        for extra, says in [
            ((), "street furniture"),
            (("--anomaly-blueprints", "static.prop.*"), "no wildcards"),
            (("--anomaly-blueprints", "static.prop.mesh"), "empty actor"),
            (("--anomaly-blueprints", "static.prop.piano"), "static.prop.piano not on the server"),
        ]:
            r = generate(port, out, *test, *extra, check=False)
            assert r.returncode == 2 and says in r.stderr, r.stderr
        assert not out.exists()
        r = generate(port, out, *test, "--anomaly-blueprints", f"@{listed}")
        metas = list(_metas(out).values())
        assert {p["blueprint"] for m in metas for p in m["props"]} <= {
            "static.prop.giantball_m",
            "static.prop.ziggurat_l",
        }
        assert [m["warmup_ticks"] for m in metas] == [10, 10]  # a real server's default
        ids = [(p["actor_id"], p["instance_id"]) for m in metas for p in m["props"]]
        assert any(a > 0xFFFF for a, _ in ids) and all(c == a & 0xFFFF for a, c in ids)
        assert r.stderr.count("passed 65,535") == 1
        for m in metas:
            assert sum(p["pixels"] for p in m["props"]) == m["anomaly_pixels"]
        r = generate(port, tmp_path / "m", *test, "--anomaly-meshes", str(meshes))
        props = [p for m in _metas(tmp_path / "m").values() for p in m["props"]]
        assert {(p["blueprint"].rsplit("/", 1)[-1], p["size"], p["scale"]) for p in props} <= {
            ("egg_m.egg_m", "huge", 0.5),
            ("mushroom_l.mushroom_l", "tiny", 1.0),
        }
        assert any(p["pixels"] > 0 for p in props)
    finally:
        stop_server(proc)
