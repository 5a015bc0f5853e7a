"""Evaluation progress in a log or CI output (stderr not a terminal): plain lines per stage."""

from segood.evaluation.api import EvalOptions, evaluate
from tests.evaluation.conftest import CONFIG


def test_evaluation_prints_progress_lines_when_not_a_terminal(eval_assets, tmp_path, capsys):
    options = EvalOptions(
        config=CONFIG,
        checkpoint=str(eval_assets["psp"]),
        data_root=str(eval_assets["root"]),
        scales=(),
        out=str(tmp_path),
        scorers=["msp", "sml"],
        protocol="all",
        panels=0,
    )
    evaluate(options)
    err = capsys.readouterr().err
    assert "\r" not in err  # no bar redrawn in a log
    assert "fit sml: 2/2 (100%), " in err
    assert "eval streethazards: 5/5 (100%), " in err
    assert "components: 5/5 (100%), " in err
