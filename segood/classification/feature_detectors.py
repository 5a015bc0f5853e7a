"""Detectors on penultimate features: isolation forest and LOF (scikit-learn).

The CAOS paper (Hendrycks et al., ICML 2022, section 4) compares them with the logit scorers on
multi-label classifiers: fitted on in-distribution training features, each gives a normality
score (`score_samples`, higher = more normal); the anomaly score is its negative, higher = more
anomalous. LOF uses 20 neighbours (the paper's setting) in novelty mode, so it can score new
samples; iForest uses scikit-learn's defaults (100 trees) with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from segood.errors import SegoodError

DETECTORS = ("iforest", "lof")


def fit_detector(
    name: str, train_features: np.ndarray, seed: int = 0, n_neighbors: int = 20
) -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    """(features (N, D) -> anomaly scores (N,), settings) of a detector fitted on ID features."""
    feats = np.asarray(train_features, dtype=np.float64)
    if feats.ndim != 2 or len(feats) < 2:
        raise SegoodError(f"{name}: training features must be (N >= 2, D), got {feats.shape}")
    if name == "iforest":
        from sklearn.ensemble import IsolationForest

        model = IsolationForest(random_state=seed).fit(feats)
        settings = {"n_estimators": model.n_estimators, "random_state": seed}
    elif name == "lof":
        from sklearn.neighbors import LocalOutlierFactor

        k = min(n_neighbors, len(feats) - 1)
        model = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(feats)
        settings = {"n_neighbors": k, "novelty": True}
    else:
        raise SegoodError(f"unknown feature detector {name!r}; choose from {DETECTORS}")
    settings["fit_samples"] = len(feats)

    def score(features: np.ndarray) -> np.ndarray:
        return -model.score_samples(np.asarray(features, dtype=np.float64))

    return score, settings
