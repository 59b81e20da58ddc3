"""Clusterers, centroid matching and status rules on controlled vectors (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from models.embed import l2_normalise
from models.themes import (
    AgglomerativeClusterer,
    HdbscanClusterer,
    match_centroids,
    theme_status,
    update_themes,
)


def blobs(sizes, dim=32, spread=0.05, seed=0):
    rng = np.random.RandomState(seed)
    centres = l2_normalise(rng.randn(len(sizes), dim))
    X, y = [], []
    for k, n in enumerate(sizes):
        X.append(centres[k] + spread * rng.randn(n, dim))
        y += [k] * n
    return l2_normalise(np.vstack(X)), np.array(y), centres


@pytest.mark.parametrize(
    "clusterer", [AgglomerativeClusterer(0.3, 3), HdbscanClusterer(3, 2, max_centroid_distance=0.3)]
)
def test_blobs_found_small_ones_unassigned(clusterer):
    X, y, _ = blobs([8, 5, 3, 1, 1])  # two singletons must stay outliers; the 3-member blob is a theme
    labels = clusterer.fit_predict(X)
    for k in (0, 1, 2):
        got = set(labels[y == k])
        assert len(got) == 1 and -1 not in got, (k, labels)
    assert len({labels[y == k][0] for k in (0, 1, 2)}) == 3
    assert (labels[y >= 3] == -1).all()
    assert labels[0] == 0  # renumbered by size, largest first


def test_tiny_inputs():
    assert AgglomerativeClusterer(0.3, 3).fit_predict(np.zeros((0, 4))).tolist() == []
    assert AgglomerativeClusterer(0.3, 3).fit_predict(l2_normalise(np.ones((2, 4)))).tolist() == [-1, -1]


def test_match_is_one_to_one_and_thresholded():
    _, _, c = blobs([1, 1, 1], spread=0)
    prev = {"a": c[0], "b": c[1]}
    rng = np.random.RandomState(1)
    new = {
        0: l2_normalise((c[1] + 0.02 * rng.randn(32))[None])[0],
        1: l2_normalise((c[0] + 0.02 * rng.randn(32))[None])[0],
        2: c[2],
    }
    m = match_centroids(prev, new, 0.8)
    assert {k: v[0] for k, v in m.items()} == {0: "b", 1: "a"}
    assert all(v[1] > 0.9 for v in m.values())
    assert match_centroids(prev, new, 0.9999) == {}


def test_status_rules(settings):
    assert theme_status(5, 0, settings) == "new"
    assert theme_status(6, 3, settings) == "growing"
    assert theme_status(4, 3, settings) == "stable"  # +1 is noise even at x1.33
    assert theme_status(2, 4, settings) == "fading"


def test_update_themes_on_empty_store_loads_no_model(settings, store):
    class Boom:
        name = "boom"

        def encode(self, texts):
            raise AssertionError("no texts, no model call")

    c = update_themes(settings, store, embedder=Boom())
    assert c["mentions"] == 0 and c["themes"] == 0
