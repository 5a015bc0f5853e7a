"""The generator's checked arguments (RunSpec), its one converter of CARLA client errors, and the
StreetHazards layout that the writer and the loader share."""

import dataclasses
import errno

import numpy as np
import pytest

from segood.data import StreetHazards
from segood.errors import SegoodError
from sim import generate, writer
from sim.session import CameraSettings, ServerError, Session
from sim.spec import RunSpec


def _spec(tmp_path, *extra):
    argv = ["--split", "test", "--frames", "4", "--out", str(tmp_path / "d"), *extra]
    return RunSpec.from_args(generate.parse_args(argv))


def test_spec_is_frozen_and_holds_the_checked_values(tmp_path):
    spec = _spec(tmp_path, "--shard", "1/2", "--port", "2042", "--no-progress")
    assert spec.port == 2042 and spec.out == tmp_path / "d" and spec.frames == 4
    assert (spec.shard.index, spec.shard.count) == (1, 2)
    assert spec.anomalies == 3 and spec.progress is False  # the test split's default props
    assert spec.warmup_ticks is None and spec.exposure == "histogram"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.frames = 5
    assert not (tmp_path / "d").exists()  # checking writes nothing


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "0"], "--frames must be >= 1"),
        (["--retries", "-1"], "--retries must be >= 0"),
        (["--fov", "200"], "--fov must be within"),
        (["--warmup-ticks", "-1"], "--warmup-ticks must be within"),
        (["--shard", "2/2"], "--shard 2/2"),
    ],
)
def test_spec_refuses_bad_arguments(tmp_path, extra, message):
    with pytest.raises(SegoodError, match=message):
        _spec(tmp_path, *extra)


def test_main_reports_bad_arguments_with_exit_2(tmp_path, capsys):
    argv = ["--split", "train", "--frames", "2", "--anomalies", "2", "--out", str(tmp_path)]
    assert generate.main(argv) == 2
    assert "error: --anomalies 2 with --split train" in capsys.readouterr().err


@pytest.mark.parametrize(
    "error", [RuntimeError("time-out of 20000ms"), ConnectionResetError(), TimeoutError()]
)
def test_client_errors_become_server_errors_naming_the_call(error):
    session = Session("10.0.0.9", 2001, 1.0, CameraSettings(8, 8))
    expected = r"CARLA server 10\.0\.0\.9:2001: spawn failed"
    with pytest.raises(ServerError, match=expected), session.errors("spawn"):
        raise error


def test_other_os_errors_are_not_server_errors():
    session = Session("127.0.0.1", 2000, 1.0, CameraSettings(8, 8))
    with pytest.raises(OSError) as caught, session.errors("frame 0"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not isinstance(caught.value, ServerError)  # a full disk is no reason to reconnect


def test_a_client_error_anywhere_in_a_frame_reaches_the_reconnect_loop(tmp_path, monkeypatch):
    def make_frame(*_args):
        raise RuntimeError("rpc::timeout")  # e.g. a client call without its own wrapper

    monkeypatch.setattr(generate, "make_frame", make_frame)
    session = Session("127.0.0.1", 2000, 1.0, CameraSettings(8, 8))
    session.town = "Town05"
    with pytest.raises(ServerError, match=r"frame 3 \(Town05\) failed: rpc::timeout"):
        generate._make_frame(_spec(tmp_path), session, None, 3, "Town05")


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_the_loader_reads_what_the_writer_writes(tmp_path, split):
    for i, town in enumerate(["Town01", "Town04"]):
        paths = writer.frame_paths(tmp_path, split, town, f"00000{i}")
        rgb = np.full((8, 12, 3), 40 * i, np.uint8)
        writer.write_frame(paths, rgb, np.full((8, 12), 3, np.uint8), {})
    data = StreetHazards(tmp_path, split)
    assert len(data) == 2
    item = data[1]
    assert item["name"] == "Town04/000001"
    assert (np.asarray(item["label"]) == 2).all()  # raw 3 -> class id 2 (the -1 shift)
