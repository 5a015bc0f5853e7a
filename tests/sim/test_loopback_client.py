"""The loopback server through the real carla client: batches, map loads without client noise,
mesh props, map actors (traffic lights and signs) and the RGB camera's 0.9.16 attributes."""

import json

import pytest

from sim.tags import Tag
from tests.sim.helpers import rpc, run_client, status


def test_world_observer_stream_outlives_map_loads(server_port):
    _, before = rpc(server_port, "get_episode_info")
    rpc(server_port, "load_new_episode", "Town02", True)
    _, after = rpc(server_port, "get_episode_info")
    assert before[0][1][0] != after[0][1][0]  # a new episode ...
    assert before[0][1][1] == after[0][1][1]  # ... on the same stream, as in CARLA


def test_client_session_through_the_loopback_server(server_port):
    r = run_client(
        server_port,
        """
        out = {}
        for town in ("Town01", "Town02", "Town01"):  # a map load must not make the client log
            world = client.load_world(town)
        lib = world.get_blueprint_library()
        rgb = lib.find("sensor.camera.rgb")
        rgb.set_attribute("motion_blur_intensity", "0")
        rgb.set_attribute("exposure_mode", "manual")
        cam = world.spawn_actor(rgb, carla.Transform(carla.Location(z=30)))
        mesh = lib.find("static.prop.mesh")
        mesh.set_attribute("mesh_path", "/Game/Segood/Props/giantball_m.giantball_m")
        mesh.set_attribute("scale", "2.0")
        sp = world.get_map().get_spawn_points()
        ball = world.spawn_actor(mesh, sp[5])
        mesh.set_attribute("mesh_path", "/Game/Nowhere/Missing.Missing")
        empty = world.spawn_actor(mesh, sp[40])
        out["ball"] = [ball.bounding_box.extent.z, list(ball.semantic_tags)]
        out["empty"] = [empty.bounding_box.extent.z, list(empty.semantic_tags)]
        marks = world.get_actors().filter("traffic.*")
        out["marks"] = sorted({(a.type_id, tuple(a.semantic_tags)) for a in marks})
        ids = [ball.id, empty.id, cam.id, 999999]
        responses = client.apply_batch_sync([carla.command.DestroyActor(i) for i in ids])
        out["batch"] = [[r.actor_id, r.error] for r in responses]
        print(json.dumps(out))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert "ERROR" not in r.stderr and "WARNING" not in r.stderr, r.stderr
    out = json.loads(r.stdout)
    assert out["ball"] == [pytest.approx(2 * 0.55, rel=1e-6), [Tag.STATIC]]  # float32 extent
    assert out["empty"] == [0.0, []]  # an unknown mesh: an empty actor, as in CARLA
    marks = {(m[0], tuple(m[1])) for m in out["marks"]}
    assert ("traffic.traffic_light", (Tag.POLES, Tag.TRAFFIC_LIGHT)) in marks
    assert ("traffic.stop", (Tag.TRAFFIC_SIGNS,)) in marks
    assert [e == "" for _, e in out["batch"]] == [True, True, True, False]
    assert "not found" in out["batch"][3][1]
    st = status(server_port)
    assert st["actors"] == []
    attrs = st["camera_attributes"]["sensor.camera.rgb"]
    assert attrs["motion_blur_intensity"] == "0" and attrs["exposure_mode"] == "manual"
