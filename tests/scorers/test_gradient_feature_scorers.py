"""Gradient scorers (ODIN, PRO) and feature scorers (Mahalanobis, ViM, kNN) against hand-written
or independent references (numpy, scipy, sklearn), their layouts, fits and memory bounds."""

import itertools
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import torch
from sklearn.neighbors import NearestNeighbors

from segood.errors import SegoodError
from segood.scorers import available, get
from segood.scorers.entropy import entropy
from segood.scorers.gen import gen
from segood.scorers.knn import reservoir_update
from segood.scorers.msp import msp
from segood.scorers.temp_msp import temp_msp

torch.set_num_threads(1)

GRADIENT = ["odin", "pro_msp", "pro_entropy", "pro_temp_msp", "pro_gen"]
FEATURE = ["mahalanobis", "vim", "knn"]
PRO_BASE = {
    "pro_msp": msp,
    "pro_entropy": entropy,
    "pro_temp_msp": lambda f: temp_msp(f, 1000.0),
    "pro_gen": lambda f: gen(f, 0.1, 100),
}


def gen_(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def linear(d: int = 4, c: int = 3, seed: int = 0, scale: float = 1.0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    model = torch.nn.Linear(d, c).double()
    with torch.no_grad():
        model.weight.mul_(scale)
    return model


def as_conv(lin: torch.nn.Linear) -> torch.nn.Conv2d:
    """The same map as a 1x1 convolution: a segmentation model with per-pixel independence."""
    conv = torch.nn.Conv2d(lin.in_features, lin.out_features, 1).double()
    with torch.no_grad():
        conv.weight.copy_(lin.weight[:, :, None, None])
        conv.bias.copy_(lin.bias)
    return conv


def classifier(features, logits, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed (W (C, D), b (C,)) for the features' and logits' channel counts."""
    g = gen_(seed)
    d, c = features.shape[1], logits.shape[1]
    return torch.randn(c, d, generator=g, dtype=torch.float64), torch.randn(c, generator=g)


def fit_inputs(scorer_name: str, features, logits):
    if scorer_name == "knn":
        return {"features": features}
    inputs = {"features": features, "logits": logits}
    if scorer_name == "vim":
        inputs["classifier"] = classifier(features, logits)
    return inputs


def test_new_scorers_are_registered_and_declare_their_needs():
    assert set(GRADIENT + FEATURE) <= set(available())
    for name in GRADIENT:
        assert get(name).requires == ("model", "inputs")
    assert get("mahalanobis").requires == ("features", "logits")
    assert get("vim").requires == ("features", "logits", "classifier")
    assert get("vim", origin="mean").requires == ("features", "logits")
    assert get("knn").requires == ("features",)


# --- ODIN ---------------------------------------------------------------------------------


def test_odin_step_and_score_by_hand_on_a_linear_model():
    T, eps = 2.0, 0.05  # large enough for the step to matter in the comparison
    model = linear(scale=3.0)
    x = torch.randn(6, 4, generator=gen_(1), dtype=torch.float64)
    W, b = model.weight.detach().numpy(), model.bias.detach().numpy()
    xs = x.numpy()
    f = xs @ W.T + b
    p = scipy.special.softmax(f / T, axis=1)
    top = p.argmax(axis=1)
    # d/dx log max softmax(f/T) = (W_top - sum_k p_k W_k) / T, per sample
    grad = (W[top] - p @ W) / T
    x_prime = xs - eps * np.sign(-grad)
    expected = -scipy.special.softmax((x_prime @ W.T + b) / T, axis=1).max(axis=1)
    scores = get("odin", temperature=T, eps=eps)(model=model, inputs=x)
    assert scores.shape == (6,)
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-10)
    # the step raises the max softmax: ODIN's score is below the unperturbed one
    assert (scores.numpy() < -p.max(axis=1)).all()


def test_odin_defaults_and_checks():
    scorer = get("odin")
    assert (scorer.temperature, scorer.eps) == (1000.0, 5e-5)
    with pytest.raises(SegoodError, match="eps"):
        get("odin", eps=-1.0)
    with pytest.raises(SegoodError, match="temperature"):
        get("odin", temperature=0)
    with pytest.raises(SegoodError, match="missing"):
        get("odin")(inputs=torch.zeros(2, 4))
    with pytest.raises(SegoodError, match="NaN"):
        get("odin")(model=linear(), inputs=torch.full((2, 4), float("nan"), dtype=torch.float64))


@pytest.mark.parametrize("name", GRADIENT)
def test_gradient_scorers_pixels_of_a_1x1_conv_equal_a_classifier_batch(name):
    lin = linear(scale=2.0)
    image = torch.randn(2, 4, 3, 5, generator=gen_(2), dtype=torch.float64)
    scorer = get(name)
    maps = scorer(model=as_conv(lin), inputs=image)
    assert maps.shape == (2, 3, 5) and maps.dtype == torch.float64
    # with a 1x1 conv each pixel's gradient only touches that pixel: per-pixel = per-sample
    pixels = image.movedim(1, -1).reshape(-1, 4)
    flat = scorer(model=lin, inputs=pixels)
    assert flat.shape == (30,)
    torch.testing.assert_close(maps.reshape(-1), flat, rtol=1e-9, atol=1e-12)
    # the classification interface: extra outputs are ignored, numpy in -> numpy out
    out = scorer(model=lin, inputs=pixels.numpy(), logits=lin(pixels).detach(), features=pixels)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, flat.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", GRADIENT)
def test_gradient_scorers_higher_for_uncertain_inputs(name):
    lin = linear(scale=1.0)
    with torch.no_grad():
        lin.bias.zero_()
    confident = 8 * torch.randn(5, 4, generator=gen_(3), dtype=torch.float64)
    uncertain = 1e-3 * torch.randn(5, 4, generator=gen_(4), dtype=torch.float64)
    scorer = get(name)
    assert scorer(model=lin, inputs=uncertain).min() > scorer(model=lin, inputs=confident).max()


# --- PRO ----------------------------------------------------------------------------------


def manual_pro(model, x, score, eps, steps):
    """Algorithm 1 of Chen et al. written out: confidence g = -score, K signed steps lowering
    g, the minimum of g over the K + 1 points; returned as an anomaly score (-min g)."""
    x = x.clone()
    gs = []
    for k in range(steps + 1):
        x.requires_grad_(True)
        g = -score(model(x))  # the paper's confidence, (B, H, W)
        gs.append(g.detach())
        if k < steps:
            (grad,) = torch.autograd.grad(g.sum(), x)
            x = (x - eps * grad.sign()).detach()
    return -torch.stack(gs).min(dim=0).values


@pytest.mark.parametrize("name", sorted(PRO_BASE))
def test_pro_equals_a_manual_loop_and_never_lowers_the_score(name):
    conv = as_conv(linear(scale=2.0, seed=5))
    image = torch.randn(1, 4, 4, 6, generator=gen_(6), dtype=torch.float64)
    eps, steps = 0.05, 3
    scores = get(name, steps=steps, eps=eps)(model=conv, inputs=image)
    expected = manual_pro(conv, image, PRO_BASE[name], eps, steps)
    torch.testing.assert_close(scores, expected, rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        plain = PRO_BASE[name](conv(image))
    assert (scores >= plain).all() and (scores > plain).any()
    # K = 0 is the plain score
    zero = get(name, steps=0)(model=conv, inputs=image)
    torch.testing.assert_close(zero, plain, rtol=1e-12, atol=1e-12)


def test_pro_defaults_and_checks():
    assert (get("pro_msp").steps, get("pro_msp").eps) == (3, 0.003)
    assert get("pro_entropy").eps == 0.0014
    assert get("pro_temp_msp").eps == 0.003 and get("pro_temp_msp").temperature == 1000.0
    assert get("pro_gen").eps == 1e-4 and get("pro_gen").gamma == 0.1
    with pytest.raises(SegoodError, match="steps"):
        get("pro_msp", steps=-1)
    with pytest.raises(SegoodError, match="gamma"):
        get("pro_gen", gamma=0)


def test_pro_gen_survives_a_saturated_softmax():
    """d/dp (1 - p)^gamma is infinite at p = 1: such pixels must not turn the step into NaN."""
    conv = as_conv(linear(scale=200.0, seed=7)).float()
    image = torch.randn(1, 4, 4, 4, generator=gen_(8))
    scores = get("pro_gen", eps=0.01)(model=conv, inputs=image)
    assert torch.isfinite(scores).all()


# --- Mahalanobis ----------------------------------------------------------------------------


def gaussian_classes(n: int, d: int = 6, k: int = 3, seed: int = 0):
    """Features from K Gaussians with a shared covariance and logits whose argmax is the class."""
    rng = np.random.default_rng(seed)
    means = 3 * rng.normal(size=(k, d))
    mix = rng.normal(size=(d, d))
    labels = rng.integers(0, k, size=n)
    x = means[labels] + rng.normal(size=(n, d)) @ mix
    logits = rng.normal(size=(n, k)) + 10 * np.eye(k)[labels]
    return torch.from_numpy(x), torch.from_numpy(logits), labels


def test_mahalanobis_matches_scipy():
    x, logits, labels = gaussian_classes(300)
    scorer = get("mahalanobis")
    scorer.update(features=x, logits=logits)
    xs = x.numpy()
    mus = np.stack([xs[labels == c].mean(0) for c in range(3)])
    centred = xs - mus[labels]
    precision = scipy.linalg.pinvh(centred.T @ centred / len(xs))
    query, _, _ = gaussian_classes(40, seed=1)
    q = query.numpy()
    expected = np.array(
        [min(scipy.spatial.distance.mahalanobis(p, m, precision) ** 2 for m in mus) for p in q]
    )
    scores = scorer(features=query, logits=torch.zeros(40, 3, dtype=torch.float64))
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-8)
    # higher = more anomalous: far from every class mean scores above the means themselves
    far = torch.from_numpy(mus.mean(0) + 50)[None].expand(3, -1)
    at_means = scorer(features=torch.from_numpy(mus), logits=torch.zeros(3, 3).double())
    assert at_means.max() < 1e-9 < scorer(features=far, logits=torch.zeros(3, 3).double()).min()


def as_maps(x: torch.Tensor, b: int, h: int, w: int) -> torch.Tensor:
    """(B * h * w, C) rows -> (B, C, h, w) maps (row order = b, then pixels)."""
    return x.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("name", FEATURE)
def test_feature_maps_equal_their_pixels_as_a_batch(name):
    x, logits, _ = gaussian_classes(2 * 5 * 7, seed=2)
    settings = {"knn": {"k": 3, "bank_size": 1000}}.get(name, {"dim": 3} if name == "vim" else {})
    scorer = get(name, **settings, chunk=9) if name != "knn" else get(name, **settings, block=50)
    scorer.update(**fit_inputs(name, as_maps(x, 2, 5, 7), as_maps(logits, 2, 5, 7)))
    q, ql, _ = gaussian_classes(2 * 3 * 4, seed=3)
    maps = scorer(**fit_inputs(name, as_maps(q, 2, 3, 4), as_maps(ql, 2, 3, 4)))
    assert maps.shape == (2, 3, 4) and maps.dtype == torch.float64
    flat = scorer(**fit_inputs(name, q, ql))
    assert flat.shape == (24,)
    torch.testing.assert_close(maps.reshape(-1), flat, rtol=1e-9, atol=1e-9)
    # the same fit from (N, D) rows
    rows = get(name, **settings)
    rows.update(**fit_inputs(name, x, logits))
    for key, value in scorer.state_dict().items():
        torch.testing.assert_close(rows.state_dict()[key], value, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("name", FEATURE)
def test_streaming_fit_equals_one_shot_and_survives_save_load(name, tmp_path):
    x, logits, _ = gaussian_classes(120, seed=4)
    settings = {"knn": {"k": 4}, "vim": {"dim": 3}}.get(name, {})
    one_shot = get(name, **settings)
    one_shot.update(**fit_inputs(name, x, logits))
    streamed = get(name, **settings)
    for part in (slice(0, 7), slice(7, 50), slice(50, 120)):
        streamed.update(**fit_inputs(name, x[part], logits[part]))
    a, b = one_shot.state_dict(), streamed.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-10, atol=1e-9)
    q, ql, _ = gaussian_classes(30, seed=5)
    expected = one_shot(**fit_inputs(name, q, ql))
    torch.testing.assert_close(streamed(**fit_inputs(name, q, ql)), expected, rtol=1e-8, atol=1e-8)
    streamed.save(tmp_path / f"{name}.pt")
    loaded = get(name, **settings).load(tmp_path / f"{name}.pt")
    torch.testing.assert_close(loaded(**fit_inputs(name, q, ql)), expected, rtol=1e-8, atol=1e-8)
    with pytest.raises(SegoodError, match="not fitted"):
        get(name)(**fit_inputs(name, q, ql))


@pytest.mark.parametrize("name", FEATURE)
def test_image_resolution_mask_and_logits_are_taken_to_the_feature_grid(name):
    feats = torch.randn(1, 6, 5, 7, generator=gen_(9), dtype=torch.float64)
    logits = 5 * torch.randn(1, 3, 40, 56, generator=gen_(10), dtype=torch.float64)
    mask = torch.rand(1, 40, 56, generator=gen_(11)) > 0.4
    settings = {"knn": {"k": 2}, "vim": {"dim": 3}}.get(name, {})
    via_image = get(name, **settings)
    via_image.update(**fit_inputs(name, feats, logits), mask=mask)
    # by hand: the mask at the centre pixel of each 8x8 cell, logits resized bilinearly
    small_mask = mask[:, 4::8, 4::8]
    small_logits = torch.nn.functional.interpolate(logits, size=(5, 7), mode="bilinear")
    by_hand = get(name, **settings)
    by_hand.update(**fit_inputs(name, feats, small_logits), mask=small_mask)
    for key, value in by_hand.state_dict().items():
        torch.testing.assert_close(via_image.state_dict()[key], value)
    scores = via_image(**fit_inputs(name, feats, logits))
    assert scores.shape == (1, 5, 7)


# --- ViM ----------------------------------------------------------------------------------


def numpy_vim(x, logits, u, dim, y, ly):
    """The paper's code (haoqiwang/vim benchmark.py) in numpy: alpha and the scores of y."""
    moment = (x - u).T @ (x - u) / len(x)  # EmpiricalCovariance(assume_centered=True) of x - u
    evals, evecs = np.linalg.eigh(moment)
    ns = evecs[:, np.argsort(-evals)[dim:]]
    alpha = logits.max(1).mean() / np.linalg.norm((x - u) @ ns, axis=1).mean()
    scores = alpha * np.linalg.norm((y - u) @ ns, axis=1) - scipy.special.logsumexp(ly, axis=1)
    return alpha, scores, ns


@pytest.mark.parametrize("origin", ["classifier", "mean"])
def test_vim_matches_a_numpy_reimplementation_of_the_paper(origin):
    rng = np.random.default_rng(12)
    d, c, dim = 10, 4, 4
    x = rng.normal(size=(400, d)) @ rng.normal(size=(d, d)) + 2
    w, b = rng.normal(size=(c, d)), rng.normal(size=c)
    logits = x @ w.T + b
    y = rng.normal(size=(50, d)) * 3
    ly = y @ w.T + b
    # the paper's origin: u = -pinv(W) b, i.e. the least-norm point where every logit is 0
    u = -np.linalg.pinv(w) @ b if origin == "classifier" else x.mean(0)
    alpha, expected, ns = numpy_vim(x, logits, u, dim, y, ly)
    scorer = get("vim", dim=dim, origin=origin)
    given = (
        {"classifier": (torch.from_numpy(w), torch.from_numpy(b))} if origin == "classifier" else {}
    )
    scorer.update(features=torch.from_numpy(x), logits=torch.from_numpy(logits), **given)
    np.testing.assert_allclose(scorer.alpha, alpha, rtol=1e-6)  # the alpha sample is float32
    scores = scorer(features=torch.from_numpy(y), logits=torch.from_numpy(ly), **given)
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-6, atol=1e-6)
    # higher = more anomalous: off the principal subspace and with low energy
    off = torch.from_numpy(u + 30 * ns[:, 0])[None]
    on = torch.from_numpy(u)[None]
    lo = torch.zeros(1, c, dtype=torch.float64)
    hi = torch.full((1, c), 20.0, dtype=torch.float64)
    assert scorer(features=off, logits=lo, **given) > scorer(features=on, logits=hi, **given)


def test_vim_origins_differ_and_fits_keep_theirs(tmp_path):
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(size=(300, 6)) + 1.5)
    w, b = torch.from_numpy(rng.normal(size=(3, 6))), torch.from_numpy(rng.normal(size=3) + 4)
    logits = x @ w.T + b
    paper = get("vim", dim=2)
    paper.update(features=x, logits=logits, classifier=(w[:, :, None, None], b))  # a 1x1 conv's
    mean = get("vim", dim=2, origin="mean")
    mean.update(features=x, logits=logits)
    torch.testing.assert_close(paper.subspace()[0], -torch.linalg.pinv(w) @ b)
    torch.testing.assert_close(mean.subspace()[0], x.mean(0))
    assert paper.alpha != pytest.approx(mean.alpha, rel=1e-3)
    with pytest.raises(SegoodError, match="another classifier"):
        paper.update(features=x, logits=logits, classifier=(w, b + 1))
    with pytest.raises(SegoodError, match=r"\(3, 6\) and \(3,\)"):
        get("vim").update(features=x, logits=logits, classifier=(w.T, b))
    with pytest.raises(SegoodError, match="missing \\['classifier'\\]"):
        get("vim").update(features=x, logits=logits)
    paper.save(tmp_path / "vim.pt")
    with pytest.raises(SegoodError, match="origin='classifier'"):
        get("vim", dim=2, origin="mean").load(tmp_path / "vim.pt")
    loaded = get("vim", dim=2).load(tmp_path / "vim.pt")
    torch.testing.assert_close(loaded.subspace()[0], paper.subspace()[0])
    with pytest.raises(SegoodError, match="origin must be one of"):
        get("vim", origin="zero")


def test_vim_principal_dimension_rule():
    from segood.scorers.vim import default_dim

    assert (default_dim(2048), default_dim(768), default_dim(512)) == (1000, 512, 256)
    with pytest.raises(SegoodError, match="dim"):
        get("vim", dim=6, origin="mean").update(
            features=torch.randn(10, 6), logits=torch.randn(10, 3)
        )


# --- kNN ----------------------------------------------------------------------------------


def test_knn_matches_sklearn_on_the_same_bank():
    x = torch.randn(500, 8, generator=gen_(13), dtype=torch.float64)
    scorer = get("knn", k=5, bank_size=200, seed=3)
    scorer.update(features=x)
    bank = scorer.bank.double().numpy()
    assert bank.shape == (200, 8)
    np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1, rtol=1e-6)
    queries = torch.randn(60, 8, generator=gen_(14), dtype=torch.float64)
    q = queries.numpy() / np.linalg.norm(queries.numpy(), axis=1, keepdims=True)
    dist, _ = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(bank).kneighbors(q)
    np.testing.assert_allclose(scorer(features=queries).numpy(), dist[:, 4], rtol=1e-6, atol=1e-7)
    # higher = more anomalous: a bank point's direction scores below an unseen direction
    inside = torch.from_numpy(bank[:1] * 7.0)
    outside = torch.from_numpy(-bank.mean(0, keepdims=True))
    assert scorer(features=inside) < scorer(features=outside)
    with pytest.raises(SegoodError, match="k = 9"):
        get("knn", k=9, bank_size=5)


def test_reservoir_is_uniform_whatever_the_batches():
    n, capacity, runs = 400, 40, 300
    counts = np.zeros(n)
    rows = torch.arange(n, dtype=torch.float32)[:, None]
    for seed in range(runs):
        rng, bank, seen = np.random.default_rng(seed), None, 0
        cuts = [0, 3, 40, 41, 200, n] if seed % 2 else [0, n]
        for a, b in itertools.pairwise(cuts):
            bank, seen = reservoir_update(bank, seen, rows[a:b], capacity, rng)
        picked = bank[:, 0].long().numpy()
        assert len(set(picked)) == capacity and seen == n
        counts[picked] += 1
    rate = counts / runs  # each row should be kept with probability capacity / n = 0.1
    quarters = rate.reshape(4, -1).mean(1)
    np.testing.assert_allclose(quarters, 0.1, atol=0.015)


# --- memory on a 720x1280 image --------------------------------------------------------------

MEMORY_CHILD = textwrap.dedent(
    """
    import json, torch
    from segood.scorers import get
    torch.set_num_threads(1)

    def rss_peak_after(fn):
        open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to VmRSS now
        status = lambda key: int(next(l.split()[1] for l in open("/proc/self/status")
                                      if l.startswith(key)))
        base = status("VmRSS:")
        fn()
        return (status("VmHWM:") - base) * 1024

    g = torch.Generator().manual_seed(0)
    feats = torch.relu(torch.randn(1, 512, 90, 160, generator=g))  # a 720x1280 image, stride 8
    logits = torch.randn(1, 13, 90, 160, generator=g)
    out = {}
    for name, kw in [("mahalanobis", {}), ("vim", {}), ("knn", {"bank_size": 4096})]:
        scorer = get(name, **kw)
        inputs = {"features": feats} if name == "knn" else {"features": feats, "logits": logits}
        if name == "vim":
            inputs["classifier"] = (torch.randn(13, 512, generator=g), torch.randn(13, generator=g))
        small = {k: v[..., :32, :32] if k != "classifier" else v for k, v in inputs.items()}
        warm = get(name, **kw)  # first calls map library code into memory: not the scorer's
        warm.update(**small)
        warm(**small)
        fit = rss_peak_after(lambda: scorer.update(**inputs))
        scorer(**small)  # caches the fit's eigendecomposition: scoring state, not scoring
        score = rss_peak_after(lambda: scorer(**inputs))
        out[name] = {"fit": fit, "score": score}
    print(json.dumps(out))
    """
)
MB = 2**20
# the bounds stated in the scorers' docstrings, at D = 512 (kNN with a 4096-pixel bank: 8 MB;
# ViM's alpha sample at its default 10,000 pixels: 20 MB; each may be copied once while filling)
SCORE_BOUND = {"mahalanobis": 20 * MB, "vim": 20 * MB, "knn": 24 * MB}
FIT_BOUND = {"mahalanobis": 32 * MB, "vim": (32 + 2 * 20) * MB, "knn": (24 + 2 * 8) * MB}


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux peak RSS")
def test_feature_scorers_stay_within_their_memory_on_a_720x1280_image():
    """Peak resident memory growth of one fit step and one scoring of a 720x1280 image
    (features (1, 512, 90, 160)), measured in a fresh process where large allocations are
    mmapped and returned on free (so freed memory cannot hide a peak). The unchunked versions
    would need (N, K, D) = 383 MB (Mahalanobis) and (N, bank) = 236 MB (kNN)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD], capture_output=True, text=True, env=env, check=True
    )
    peaks = json.loads(run.stdout.strip().splitlines()[-1])
    for name, peak in peaks.items():
        assert peak["score"] < SCORE_BOUND[name], (name, peak)
        assert peak["fit"] < FIT_BOUND[name], (name, peak)
