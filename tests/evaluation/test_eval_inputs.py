"""Bad evaluation inputs: one `error:` line naming the flag, exit 2, nothing written."""

from __future__ import annotations

import pytest

from segood.cli import eval_caos
from tests.evaluation.conftest import CONFIG


@pytest.fixture(scope="module")
def eval_main():
    return eval_caos.main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scales", "0"], "--scales takes short sides of at least 1 pixel, got ['0']"),
        (["--scales", "-100"], "--scales takes short sides of at least 1 pixel, got ['-100']"),
        (["--scales", "300", "abc"], "--scales takes integers"),
        (["--max-images", "0"], "--max-images must be at least 1, got 0"),
        (["--fit-images", "0"], "--fit-images must be at least 1, got 0"),
        (["--panels", "-1"], "--panels must be at least 0, got -1"),
        (["--mc-passes", "1"], "--mc-passes must be at least 2, got 1"),
        (["--device", "cuda:99"], "--device cuda:99: "),
        (["--device", "gpu"], "--device 'gpu' is not a device"),
        (
            ["--extra-scorers", "energy", "--set", "energy.temprature=2"],
            "scorer 'energy' has no setting 'temprature' (did you mean 'temperature'?); "
            "its settings: temperature",
        ),
    ],
)
def test_bad_values_name_the_flag(eval_main, eval_assets, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    common = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--data-root",
              str(eval_assets["root"]), "--no-progress", "--out", str(out)]  # fmt: skip
    assert eval_main([*common, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert not out.exists()


def test_out_under_a_regular_file(eval_main, eval_assets, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "report"
    args = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--data-root",
            str(eval_assets["root"]), "--no-progress", "--out", str(out)]  # fmt: skip
    assert eval_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"error: --out {out}: {tmp_path / 'file'} is a file, not a folder; choose another --out"
    )
