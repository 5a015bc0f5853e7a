"""Evaluation progress in a log or CI output (stderr not a terminal): plain lines per stage."""

from segood.evaluation.api import evaluate
from tests.evaluation.test_eval_caos import options


def test_evaluation_prints_progress_lines_when_not_a_terminal(eval_assets, tmp_path, capsys):
    evaluate(options(eval_assets, tmp_path, scorers=["msp", "sml"], protocol="all", panels=0,
                     progress=True))  # fmt: skip
    err = capsys.readouterr().err
    assert "\r" not in err  # no bar redrawn in a log
    assert "fit sml: 2/2 (100%), " in err
    assert "eval streethazards: 5/5 (100%), " in err
    assert "components: 5/5 (100%), " in err
