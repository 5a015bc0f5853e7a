"""Training with outliers: the OE and energy losses by hand, the SegModel option, the configs,
and real Runner fine-tuning (load_from, pasted sim sprites, exact --resume)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch

from segood.data.paste import OUTLIER_INDEX
from segood.engine import SegModel, build_runner, load_config
from segood.errors import SegoodError
from segood.models.outlier_losses import (
    energy_bounded_loss,
    outlier_exposure_loss,
    relative_margins,
)
from tests.engine.conftest import CONFIGS, TINY

O, I = OUTLIER_INDEX, 255
NET = dict(type="PSPNet", encoder="resnet18", num_classes=3, pretrained=None)


def pixels(*columns: list[float]) -> torch.Tensor:
    """(1, K, 1, N) logits from N per-pixel logit vectors."""
    return torch.tensor(columns, dtype=torch.float64).T[None, :, None, :]


def lse(values: list[float]) -> float:
    return math.log(sum(math.exp(v) for v in values))


# --- losses by hand ---------------------------------------------------------------------------
def test_outlier_exposure_by_hand():
    # pixel 0: class 0; pixel 1: outlier; pixel 2: ignored (any logits)
    logits = pixels([2.0, 0.0, 0.0], [0.0, 0.0, math.log(4)], [9.0, -9.0, 0.0])
    target = torch.tensor([[[0, O, I]]])
    res = outlier_exposure_loss(logits, target, weight=0.5)
    ce = -2.0 + lse([2, 0, 0])
    to_uniform = (math.log(6) + math.log(6) + math.log(6 / 4)) / 3  # softmax (1/6, 1/6, 4/6)
    assert res.ce.item() == pytest.approx(ce)
    assert res.reg.item() == pytest.approx(to_uniform)
    assert res.loss.item() == pytest.approx(ce + 0.5 * to_uniform)
    # a uniform prediction is the minimum of the outlier term: log K
    flat = outlier_exposure_loss(pixels([1.0, 1.0, 1.0]), torch.tensor([[[O]]]))
    assert flat.reg.item() == pytest.approx(math.log(3)) and flat.ce.item() == 0.0


def test_energy_bounded_by_hand():
    logits = pixels([0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 0.0, 0.0], [5.0, 5.0, 5.0])
    target = torch.tensor([[[1, O, 0, I]]])
    m_in, m_out = -2.0, -1.0
    res = energy_bounded_loss(logits, target, m_in, m_out, weight=0.1)
    e0, e1, e2 = -lse([0, 0, 0]), -lse([2, 0, 0]), -lse([1, 0, 0])
    ce = ((-0.0 + lse([0, 0, 0])) + (-1.0 + lse([1, 0, 0]))) / 2
    reg_in = (max(e0 - m_in, 0) ** 2 + max(e2 - m_in, 0) ** 2) / 2
    reg_out = max(m_out - e1, 0) ** 2
    assert res.ce.item() == pytest.approx(ce)
    assert res.reg.item() == pytest.approx(reg_in + reg_out)
    assert res.loss.item() == pytest.approx(ce + 0.1 * (reg_in + reg_out))
    # the outlier's gradient raises its energy (lowers its logits); no outliers: term is 0
    x = logits.clone().requires_grad_(True)
    energy_bounded_loss(x, target, m_in, m_out).loss.backward()
    assert (x.grad[0, :, 0, 1] > 0).all() and (x.grad[0, :, 0, 3] == 0).all()
    none = energy_bounded_loss(logits, torch.tensor([[[1, 2, 0, I]]]), 10.0, 20.0)
    assert none.reg.item() == 0.0
    for bad in ((-1.0, -1.0), (0.0, -5.0), (float("nan"), 1.0)):
        with pytest.raises(SegoodError, match="m_in < m_out"):
            energy_bounded_loss(logits, target, *bad)


def test_relative_margins():
    assert relative_margins(-10.0, 2.0) == (-12.0, -8.0)
    assert relative_margins(-10.0, 2.0, 2.0, 0.5) == (-14.0, -9.0)
    lo, hi = relative_margins(-3.0, 0.0)
    assert lo < hi


# --- the SegModel option ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(outlier=dict(type="odin")), "must be one of"),
        (dict(outlier=dict(type="oe", m_in=1)), "unknown keys"),
        (dict(outlier=dict(type="energy", m_in=-1.0, m_out=-5.0)), "m_in < m_out"),
        (dict(outlier=dict(type="energy", m_in=-1.0)), "both m_in and m_out"),
        (dict(outlier=dict(type="oe"), outlier_index=2), "class id"),
        (dict(outlier=dict(type="oe", weight=-1)), ">= 0"),
    ],
)
def test_outlier_option_errors(kwargs, message):
    with pytest.raises(SegoodError, match=message):
        SegModel(model=NET, **kwargs)
    with pytest.raises(SegoodError, match="confidence branch"):
        SegModel(model={**NET, "confidence_branch": True}, outlier=dict(type="oe"))


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (2, 32, 40), generator=g)
    labels[:, 4:12, 8:20] = O
    labels[:, 0, :] = I
    return torch.randn(2, 3, 32, 40, generator=g), labels


def test_seg_model_losses_margins_and_train_state():
    torch.manual_seed(0)
    x, labels = batch()
    plain = SegModel(model=NET)
    with pytest.raises(SegoodError, match=r"model\.outlier is not set"):
        plain(x, {"labels": labels}, mode="loss")

    oe = SegModel(model=NET, outlier=dict(type="oe"))
    losses = oe(x, {"labels": labels}, mode="loss")
    assert {"loss_ce", "loss_oe", "loss_aux"} <= set(losses)
    assert 0 < losses["outlier_frac"].item() < 1

    model = SegModel(model=NET, outlier=dict(type="energy"))
    assert model.energy_margins.isnan().all()
    losses = model(x, {"labels": labels}, mode="loss")
    assert {"loss_ce", "loss_energy", "loss_aux", "m_in", "m_out"} <= set(losses)
    m_in, m_out = (float(v) for v in model.energy_margins)
    assert m_in < m_out and losses["m_in"].item() == pytest.approx(m_in)
    model(*batch(1)[:1], {"labels": batch(1)[1]}, mode="loss")  # set once, then kept
    assert [float(v) for v in model.energy_margins] == [m_in, m_out]
    state = model.train_state_dict()
    assert state == {"energy_margins": [m_in, m_out]}
    fresh = SegModel(model=NET, outlier=dict(type="energy"))
    fresh.load_train_state_dict(state)
    assert [float(v) for v in fresh.energy_margins] == [m_in, m_out]
    fixed = SegModel(model=NET, outlier=dict(type="energy", m_in=-9.0, m_out=-4.0))
    assert fixed(x, {"labels": labels}, mode="loss")["m_out"].item() == -4.0
    assert "energy_margins" not in dict(fixed.state_dict())  # checkpoint weights stay the network's


# --- configs ----------------------------------------------------------------------------------
OUTLIER_CONFIGS = sorted((CONFIGS / "outlier").glob("*.py"))


def test_outlier_configs_exist():
    names = {p.name for p in OUTLIER_CONFIGS}
    for kind in ("energy", "oe"):
        assert f"pspnet_r18-d8-c128_1xb4-120i-{kind}-ft_sim-demo-128x224.py" in names
        assert f"pspnet_r101-d8_4xb2-4e-{kind}-ft_streethazards-720x1280.py" in names


@pytest.mark.parametrize("path", OUTLIER_CONFIGS, ids=lambda p: p.name)
def test_outlier_config_loads(path: Path, tmp_path):
    cfg = load_config(path, {"outlier_sprites": str(tmp_path)})
    kind = "energy" if "-energy-" in path.name else "oe"
    assert cfg.model.outlier.type == kind
    assert cfg.model.outlier.weight == {"energy": 0.1, "oe": 0.5}[kind]
    assert cfg.train_dataloader.dataset.transform.paste.folder == str(tmp_path)
    assert cfg.load_from and cfg.evaluation.split == "test"
    if "sim-demo" in path.name:
        assert cfg.load_from == "demo_out/work_dirs/pspnet-conf/iter_150.pth"
        assert cfg.train_cfg.max_iters == 120
        assert load_config(path).train_dataloader.dataset.transform.paste.folder == (
            "demo_out/outlier_sprites"
        )
        kwargs = {k: v for k, v in cfg.model.items() if k != "type"}
        assert SegModel(**kwargs).outlier["type"] == kind
    else:
        assert cfg.model.model.encoder == "resnet101" and cfg.train_cfg.max_epochs == 4


def test_outlier_sprites_option_needs_a_paste_config():
    with pytest.raises(SegoodError, match="pastes no outliers"):
        load_config(TINY["pspnet"], {"outlier_sprites": "/x"})


# --- real Runner fine-tuning ------------------------------------------------------------------
@pytest.fixture(scope="module")
def finetune_inputs(sh_root, tmp_path_factory):
    """Tiny sim sprites, and a 'pre-trained' checkpoint whose BN counters are marked (1000)."""
    from sim.sprites import make_sprites

    base = tmp_path_factory.mktemp("outlier")
    make_sprites(base / "sprites", count=3, size=16, seed=0)
    cfg = load_config(TINY["pspnet"])
    torch.manual_seed(1)
    net = SegModel(**{k: v for k, v in cfg.model.items() if k != "type"})
    state = net.state_dict()
    for key in state:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000)
    torch.save({"state_dict": state, "meta": {}}, base / "pretrained.pth")
    return dict(root=sh_root, sprites=base / "sprites", ckpt=base / "pretrained.pth")


def finetune_config(inputs: dict, kind: str, iters: int):
    return load_config(
        TINY["pspnet"],
        {
            "data_root": str(inputs["root"]),
            "log_level": "WARNING",
            "load_from": str(inputs["ckpt"]),
            "model.outlier": dict(type=kind),
            "train_dataloader.dataset.transform.paste": dict(
                folder=str(inputs["sprites"]), count=(2, 2), scale=(0.4, 0.6)
            ),
            "train_cfg.max_iters": iters,
            "train_cfg.val_interval": 100,
        },
    )


def train(cfg, work_dir: Path, resume: bool = False):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = build_runner(cfg, work_dir=work_dir, resume=resume)
        runner.train()
    finally:
        torch.set_num_threads(threads)
    return runner


@pytest.mark.parametrize("kind", ["oe", "energy"])
def test_finetune_two_iterations(finetune_inputs, kind, tmp_path):
    wd = tmp_path / "work"
    runner = train(finetune_config(finetune_inputs, kind, 2), wd)
    ckpt = torch.load(wd / "iter_2.pth", weights_only=True)  # no allowlist needed
    assert ckpt["meta"]["iter"] == 2
    # load_from took the weights (BN counters 1000 + 2 steps) and nothing else
    counters = [v for k, v in ckpt["state_dict"].items() if k.endswith("num_batches_tracked")]
    assert counters and all(int(v) == 1002 for v in counters)
    scalars = (next(wd.glob("*/vis_data/scalars.json"))).read_text()
    assert f"loss_{kind}" in scalars and "outlier_frac" in scalars
    if kind == "energy":
        m_in, m_out = ckpt["train_state"]["model"]["energy_margins"]
        assert math.isfinite(m_in) and m_in < m_out
        assert [float(v) for v in runner.model.energy_margins] == [m_in, m_out]


def test_energy_finetune_resumes_exactly(finetune_inputs, tmp_path):
    full = tmp_path / "full"
    train(finetune_config(finetune_inputs, "energy", 4), full)
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(full / "iter_2.pth", part / "iter_2.pth")
    (part / "last_checkpoint").write_text(str(part / "iter_2.pth"))
    # load_from stays set, as with `tools/train.py CONFIG --resume`: the work dir wins
    resumed = train(finetune_config(finetune_inputs, "energy", 4), part, resume=True)
    assert resumed.iter == 4
    got = torch.load(part / "iter_4.pth", weights_only=True)
    want = torch.load(full / "iter_4.pth", weights_only=True)
    for key, value in want["state_dict"].items():
        assert torch.equal(got["state_dict"][key], value), key
    assert got["train_state"]["model"] == want["train_state"]["model"]  # the same margins
