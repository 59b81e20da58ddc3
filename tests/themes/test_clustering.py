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


def test_merge_pass_joins_a_split_theme_and_attach_pass_adopts_near_outliers():
    # one theme in two tight halves 0.5 apart (cosine distance), a stray 0.26 from the theme's middle, and a
    # point opposite to it
    rng = np.random.RandomState(3)
    q, _ = np.linalg.qr(rng.randn(32, 3))
    a, u, v = q.T
    b = 0.5 * a + 0.75**0.5 * u
    mid = l2_normalise((a + b)[None])[0]
    stray = l2_normalise((mid + 0.9 * v)[None])
    X = l2_normalise(np.vstack([a + 0.02 * rng.randn(5, 32), b + 0.02 * rng.randn(5, 32), stray, -mid[None]]))
    cut = AgglomerativeClusterer(0.2, 3).fit_predict(X)
    assert len(set(cut[:10])) == 2 and cut[10] == -1 and cut[11] == -1  # the cut alone splits the theme
    merged = AgglomerativeClusterer(0.2, 3, merge_threshold=0.6).fit_predict(X)
    assert set(merged[:10]) == {0} and merged[10] == -1
    both = AgglomerativeClusterer(0.2, 3, merge_threshold=0.6, attach_threshold=0.7).fit_predict(X)
    assert set(both[:11]) == {0} and both[11] == -1  # the stray joins, the unrelated point stays out
    assert len(set(AgglomerativeClusterer(0.2, 3, merge_threshold=0.3).fit_predict(X)[:10])) == 2  # 0.5 > 0.3
