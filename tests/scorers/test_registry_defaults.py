"""The scorers each task runs by default, as the registry declares them."""

import pytest

import segood.scorers as scorers


def test_caos_defaults_are_table_4_in_order():
    # Hendrycks et al. (ICML 2022), Table 4's columns
    assert scorers.defaults_for("caos") == [
        "msp", "branch", "background", "mc_dropout", "ae", "maxlogit"
    ]  # fmt: skip


@pytest.mark.parametrize("task", ["caos", "multilabel", "classification"])
def test_every_default_is_registered(task):
    names = scorers.defaults_for(task)
    assert names and set(names) <= set(scorers.available())


def test_classification_runs_all_but_the_left_out():
    left_out = scorers.left_out_by_default("classification")
    assert {"background", "ae", "odin"} <= set(left_out)
    names = scorers.defaults_for("classification")
    assert set(names) == set(scorers.available(aliases=False)) - set(left_out)
    assert scorers.left_out_by_default("caos") == {}


def test_unknown_task():
    with pytest.raises(ValueError, match="must be one of"):
        scorers.defaults_for("detection")
