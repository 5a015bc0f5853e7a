"""Session logic that a loopback server cannot provoke: instance codes taken by other actors
after ids wrap, and destroy responses (fakes stand in for the carla client's objects)."""

from types import SimpleNamespace

import pytest

from sim.anomaly_set import AnomalyProp
from sim.session import CameraSettings, ServerError, Session


class Blueprint:
    def __init__(self):
        self.attrs = {}

    def has_attribute(self, key):
        return key in ("role_name", "mesh_path", "scale")

    def set_attribute(self, key, value):
        self.attrs[key] = value


class Client:
    """apply_batch_sync answering from a script: one list of errors per call."""

    def __init__(self, script):
        self.script, self.calls = list(script), []

    def apply_batch_sync(self, commands, do_tick):
        ids = [c.actor_id for c in commands]
        self.calls.append(ids)
        errors = self.script.pop(0) if self.script else {}
        return [SimpleNamespace(error=errors.get(i, "")) for i in ids]


def _session(ids, script=()):
    s = Session("127.0.0.1", 1, 1.0, CameraSettings(8, 8))
    spawned = iter(ids)
    s.world = SimpleNamespace(try_spawn_actor=lambda bp, t: SimpleNamespace(id=next(spawned)))
    s.blueprints = SimpleNamespace(find=lambda name: Blueprint())
    s.client = Client(script)
    return s


def test_a_prop_never_shows_the_code_of_another_actor():
    # ids past 65,535 wrap: 65536 + 7 shows code 7, a traffic light's; 65536 shows 0 (no actor)
    s = _session([65536 + 7, 65536, 65536 + 9, 65536 + 10])
    s.busy_codes = {0, 7}
    prop = AnomalyProp("static.prop.couch", "big")
    first = s.spawn_prop(prop, None)
    assert first.id == 65536 + 9 and s.wrapped
    assert s.client.calls == [[65536 + 7], [65536]]  # the two clashing ones were destroyed
    second = s.spawn_prop(prop, None)
    assert second.id == 65536 + 10 and [a.id for a in s.props] == [first.id, second.id]


def test_destroy_retries_and_reports_what_still_fails():
    boom = "internal error: unable to destroy actor"
    s = _session([], script=[{5: boom, 6: "unable to destroy actor: not found"}, {}])
    assert s.destroy([4, 5, 6]) == {}  # 5 retried; 6 is already gone
    assert s.client.calls == [[4, 5, 6], [5]]
    s = _session([], script=[{5: boom}] * 3)
    assert s.destroy([4, 5]) == {5: boom}
    assert s.client.calls == [[4, 5], [5], [5]]
    s = _session([], script=[{5: boom}] * 3)
    s.props = [SimpleNamespace(id=5)]
    with pytest.raises(ServerError, match=r"could not destroy 1 actor.*5: internal error"):
        s.destroy_props()
    assert s.orphans == [5]  # destroyed again later (release, the next run)
