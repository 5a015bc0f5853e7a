"""Progress: a bar on a terminal, plain lines in a log or CI output (segood.progress)."""

import io
import itertools
from types import SimpleNamespace

import pytest
import torch
from tqdm import tqdm

from segood import progress as progress_module
from segood.engine.hooks import ProgressBarHook
from segood.progress import ProgressLines, show_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_a_log_gets_lines():
    bar = show_progress(total=3, file=Terminal())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(show_progress(total=3, file=io.StringIO()), ProgressLines)


def test_lines_show_count_percent_speed_eta_and_postfix(monkeypatch):
    clock = itertools.count(0.0, 1.0)  # one second per clock read: steps far apart, on any CPU
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    log = io.StringIO()
    bar = show_progress(total=10, desc="train", unit="it", file=log, min_interval=0)
    for _ in range(4):
        bar.set_postfix({"loss": "0.5000"})
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("train: 1/10 (10%), ")
    assert "eta " in lines[0] and "loss=0.5000" in lines[0] and "it/s" in lines[0]
    assert lines[-1].startswith("train: 4/10 (40%), ")
    assert len(lines) == 4  # min_interval 0: a line per step, none repeated by close()


def test_a_short_job_prints_its_final_line_only():
    log = io.StringIO()
    items = list(show_progress(range(50), desc="eval", unit="img", file=log, min_interval=60))
    assert items == list(range(50))
    lines = log.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("eval: 50/50 (100%), ") and "eta" not in lines[0]


def test_lines_grow_apart_in_a_long_job(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    log = io.StringIO()
    bar = show_progress(total=600, desc="train", file=log)  # one step a second
    for _ in range(600):
        clock[0] += 1.0
        bar.update(1)
    bar.close()
    steps = [int(line.split()[1].split("/")[0]) for line in log.getvalue().splitlines()]
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    assert steps[0] == 5 and steps[-1] == 600  # the first after 5 s, and the end
    assert gaps[:9] == [5] * 9  # every 5 s at first, then a tenth of the elapsed time
    assert gaps[:-1] == sorted(gaps[:-1]) and max(gaps) <= 60 and len(steps) < 40


def test_a_resumed_run_counts_from_where_it_was():
    log = io.StringIO()
    bar = show_progress(total=8, initial=6, desc="train", file=log, min_interval=0)
    bar.update(1)
    bar.close()
    assert log.getvalue().startswith("train: 7/8 (88%), ")


def test_disabled_prints_nothing(capsys):
    for _ in show_progress(range(3), disable=True, file=io.StringIO()):
        pass
    assert capsys.readouterr().err == ""


def test_training_hook_prints_iteration_loss_and_eta_to_a_log(capsys):
    """With stderr not a terminal (a log file, CI), training shows lines at any log level."""
    runner = SimpleNamespace(
        max_iters=5, iter=2, optim_wrapper=SimpleNamespace(get_lr=lambda: {"lr": [1e-3]})
    )
    hook = ProgressBarHook()
    hook.before_train(runner)
    for i in range(3):
        hook.after_train_iter(runner, i, outputs={"loss": torch.tensor(1.5)})
    hook.after_train(runner)
    err = capsys.readouterr().err
    assert err.startswith("train: 5/5 (100%), ") and "loss=1.5000, lr=1.00e-03" in err


@pytest.mark.parametrize("seconds", [5, 65, 3725])
def test_clock_format(seconds):
    from segood.progress import _clock

    assert _clock(seconds) == {5: "0:05", 65: "1:05", 3725: "1:02:05"}[seconds]
