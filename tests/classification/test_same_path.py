"""Classification and segmentation go through the same scorer code and agree exactly."""

import numpy as np
import pytest
import torch

from segood import scorers
from segood.classification.logits_io import OutputSet
from segood.classification.pipeline import canonical_names, evaluate_sets, select_scorers
from segood.metrics import ood_metrics

EPS32 = float(np.finfo(np.float32).eps)
LOGIT_ONLY = [n for n in canonical_names() if tuple(scorers.get(n).requires) == ("logits",)]


def make_sets(n_id=24, n_ood=16, c=6):
    g = torch.Generator().manual_seed(0)
    ids = 3 * torch.randn(n_id, c, generator=g)
    oods = torch.randn(n_ood, c, generator=g)
    return ids.numpy(), oods.numpy()


@pytest.mark.parametrize("name", LOGIT_ONLY)
def test_classifier_scores_equal_the_same_logits_as_a_map(name):
    ids, oods = make_sets()
    fit = 3 * np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)
    id_set, ood_set = OutputSet("id", {"logits": ids}), OutputSet("ood", {"logits": oods})
    sel = select_scorers([name], {"logits"}, can_fit=True)
    scorer = sel.scorers[name]
    assert type(scorer) is type(scorers.get(name))  # the registry's object, nothing else
    if isinstance(scorer, scorers.FittedScorer):
        scorer.update(fit)
    metrics, curves = evaluate_sets(id_set, [ood_set], sel)
    cls_scores, is_ood = curves["ood"][name][:2]

    # the same logits as one segmentation map (1, C, H, W), scored by a fresh scorer; the
    # channels-first copy and a channels-last view (class stride 1, as in (N, C, 1, 1)).
    # Scores agree to float32 rounding: torch may vectorise a reduction over the C = 6 classes
    # differently for another layout (a few ulps; 16 eps covers the softmax's C + 2 roundings).
    # Rounding can swap two scores that are a few ulps apart (temp_msp's are), so the metrics
    # are compared on the classifier's own scores laid out as a map: the same numbers.
    both = torch.from_numpy(np.concatenate([ids, oods]))  # (40, C)
    seg_maps = {
        "channels_last": both.reshape(1, 5, 8, 6).permute(0, 3, 1, 2),  # (1, C, H, W) view
        "contiguous": both.T.reshape(1, 6, 5, 8).contiguous(),
    }
    fit_map = torch.from_numpy(fit).reshape(1, 5, 8, 6).permute(0, 3, 1, 2)
    for seg_map in seg_maps.values():
        seg_scorer = scorers.get(name)
        if isinstance(seg_scorer, scorers.FittedScorer):
            seg_scorer.update(fit_map)  # the same fit samples, as pixels
        seg_scores = seg_scorer(seg_map)  # (1, H, W)
        np.testing.assert_allclose(
            cls_scores, seg_scores.reshape(-1), rtol=16 * EPS32, atol=16 * EPS32
        )
    map_metrics = ood_metrics(
        cls_scores.reshape(1, 5, 8), is_ood.reshape(1, 5, 8), fpr_rule="first"
    )
    assert metrics["ood"][name] == map_metrics


def test_mc_dropout_on_classifier_passes_equals_map():
    g = torch.Generator().manual_seed(0)
    drops = torch.randn(5, 12, 4, generator=g)  # (T, N, C)
    cls = scorers.get("mc_dropout")(dropout_logits=drops)  # (N,)
    as_map = drops.permute(0, 2, 1).reshape(5, 1, 4, 3, 4)  # (T, 1, C, H, W)
    seg = scorers.get("mc_dropout")(dropout_logits=as_map)
    # another memory layout: the softmax over C and the variance over T may be vectorised
    # differently, so probabilities in [0, 1] may differ by an ulp and their variance by a few
    # float32 eps in absolute terms (seen: 1.9e-9), never more
    torch.testing.assert_close(cls, seg.reshape(-1), rtol=16 * EPS32, atol=4 * EPS32)


def test_default_selection_skips_what_cannot_run_and_says_why():
    sel = select_scorers(None, {"logits"}, can_fit=False)
    assert {"msp", "maxlogit", "energy", "logitavg"} <= set(sel.scorers)
    assert "mc_dropout" in sel.skipped and "dropout_logits" in sel.skipped["mc_dropout"]
    assert "fit" in sel.skipped["sml"]
    assert "background" in sel.skipped


def test_both_paths_run_the_same_score_method(monkeypatch):
    """The classification pipeline reaches the scorer's own `score` with a 4-D (N, C, 1, 1)
    tensor, exactly as a segmentation map (B, C, H, W) does."""
    seen = []
    original = type(scorers.get("energy")).score

    def spy(self, **inputs):
        seen.append(tuple(inputs["logits"].shape))
        return original(self, **inputs)

    monkeypatch.setattr(type(scorers.get("energy")), "score", spy)
    ids, oods = make_sets()
    sel = select_scorers(["energy"], {"logits"}, can_fit=False)
    evaluate_sets(OutputSet("id", {"logits": ids}), [OutputSet("ood", {"logits": oods})], sel)
    scorers.get("energy")(torch.zeros(2, 6, 3, 4))
    assert seen == [(24, 6, 1, 1), (16, 6, 1, 1), (2, 6, 3, 4)]
