"""Image decoding: a PNG's colour profile (iCCP) is dropped, so libpng prints no warnings."""

import struct
import zlib

import cv2
import numpy as np

from segood.data.io import read_image, read_label, without_colour_profile
from segood.data.paste import read_cutout


def png_with_profile(image: np.ndarray) -> bytes:
    """`image` as a PNG with a malformed iCCP chunk after IHDR (libpng: "iCCP: too short")."""
    _, encoded = cv2.imencode(".png", image)
    data = encoded.tobytes()
    body = b"icc\0\0" + zlib.compress(b"\0" * 64)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body
    chunk += struct.pack(">I", zlib.crc32(b"iCCP" + body))
    after_ihdr = 8 + 12 + 13
    return data[:after_ihdr] + chunk + data[after_ihdr:]


def test_the_fixture_makes_libpng_warn(capfd):
    """Control: OpenCV on the raw bytes warns (so the tests below can fail)."""
    data = np.frombuffer(png_with_profile(np.zeros((4, 5, 3), np.uint8)), np.uint8)
    assert cv2.imdecode(data, cv2.IMREAD_COLOR) is not None
    assert "libpng warning: iCCP" in capfd.readouterr().err


def test_images_labels_and_cutouts_decode_without_warnings(tmp_path, capfd):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    (tmp_path / "image.png").write_bytes(png_with_profile(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))
    label = rng.integers(1, 14, (6, 7), dtype=np.uint8)
    (tmp_path / "label.png").write_bytes(png_with_profile(label))
    rgba = rng.integers(1, 256, (6, 7, 4), dtype=np.uint8)
    (tmp_path / "cutout.png").write_bytes(png_with_profile(rgba))
    np.testing.assert_array_equal(read_image(tmp_path / "image.png"), rgb)
    np.testing.assert_array_equal(read_label(tmp_path / "label.png"), label)
    cut_rgb, alpha = read_cutout(tmp_path / "cutout.png")
    np.testing.assert_array_equal(cut_rgb, cv2.cvtColor(rgba[..., :3], cv2.COLOR_BGR2RGB))
    np.testing.assert_array_equal(alpha, rgba[..., 3] / np.float32(255))
    assert "libpng" not in capfd.readouterr().err


def test_other_files_pass_through_untouched():
    _, jpeg = cv2.imencode(".jpg", np.zeros((4, 4, 3), np.uint8))
    assert without_colour_profile(jpeg) is jpeg
    _, png = cv2.imencode(".png", np.zeros((4, 4), np.uint8))  # no profile
    assert without_colour_profile(png) is png
    truncated = np.frombuffer(png_with_profile(np.zeros((4, 4), np.uint8))[:30], np.uint8)
    assert without_colour_profile(truncated) is truncated
    stripped = without_colour_profile(
        np.frombuffer(png_with_profile(np.zeros((4, 4), np.uint8)), np.uint8)
    )
    assert b"iCCP" not in stripped.tobytes() and stripped.tobytes().startswith(png[:33].tobytes())
