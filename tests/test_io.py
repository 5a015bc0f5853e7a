"""segood.io: atomic writes leave the old file or the new one, and their leftovers are known."""

import os
import stat

import pytest

from segood import io


def test_json_round_trip_and_permissions(tmp_path):
    path = tmp_path / "deep" / "a.json"
    io.write_json(path, {"b": [1, 2.5, None], "a": "x"}, sort_keys=True)
    assert path.read_text() == '{"a": "x", "b": [1, 2.5, null]}'
    assert io.read_json(path) == {"a": "x", "b": [1, 2.5, None]}
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    assert os.listdir(path.parent) == ["a.json"]


def test_path_writer_keeps_the_extension_and_cleans_up(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        tmp.write_bytes(b"png")

    io.atomic_write_path(tmp_path / "x.png", write)
    assert seen[0].suffix == ".png" and io.is_temporary(seen[0])
    assert (tmp_path / "x.png").read_bytes() == b"png" and not seen[0].exists()

    def fail(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        io.atomic_write_path(tmp_path / "x.png", fail)
    assert (tmp_path / "x.png").read_bytes() == b"png"
    assert os.listdir(tmp_path) == ["x.png"]


@pytest.mark.parametrize(
    ("name", "temporary"),
    [(".a.npz.tmp-k1ll3d.tmp", True), (".tmp-abc.png", True), ("a.tmp-1", False), ("a.npz", False)],
)
def test_is_temporary(name, temporary):
    assert io.is_temporary(name) is temporary
