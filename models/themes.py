"""Complaint themes: embeddings -> clustering -> c-TF-IDF keywords -> stable theme ids across runs.

BERTopic-like in shape, small in size, every part swappable:

- embeddings: any `models.embed.Embedder` (default: the offline e5 backbone);
- clustering: a `Clusterer` returning one label per row, -1 for outliers ("unassigned", never forced into a
  theme). `AgglomerativeClusterer` (cosine, average linkage, distance threshold) works at any volume, so a
  theme of 3 mentions is found; `HdbscanClusterer` is the density-based alternative;
- representation: `models.keywords.ctfidf_keywords` over pymorphy3 lemmas;
- identity: new clusters are matched to the brand's previous themes by centroid cosine (Hungarian assignment,
  accepted at ``settings.themes.match_threshold``), so a theme keeps its id while it drifts slowly.

`update_themes(settings, store)` is the pipeline stage; `cluster_texts` / `evaluate_themes` are pure helpers
used by ``brandmon cluster`` and ``brandmon eval --task themes``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from models.keywords import ctfidf_keywords, label_from_keywords, lemmas, stop_lemmas
from pipeline.bundled import bundled

log = logging.getLogger(__name__)

UNASSIGNED = -1


# --------------------------------------------------------------------------------------------- clustering


class Clusterer(Protocol):
    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        """One int label per row of L2-normalised X; -1 = outlier."""
        ...


def _drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Clusters below min_size become outliers; the rest are renumbered 0.. by size (largest first)."""
    labels = np.asarray(labels, dtype=int).copy()
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    keep = [i for i, c in sorted(zip(ids, counts), key=lambda x: (-x[1], x[0])) if c >= min_size]
    remap = {old: new for new, old in enumerate(keep)}
    return np.array([remap.get(lab, UNASSIGNED) for lab in labels], dtype=int)


def _centroids(X: np.ndarray, labels: np.ndarray) -> tuple[list[int], np.ndarray]:
    from models.embed import l2_normalise

    ids = sorted(set(labels.tolist()) - {UNASSIGNED})
    return ids, l2_normalise(np.stack([X[labels == i].mean(axis=0) for i in ids])) if ids else np.zeros((0, 0))


def _merge_close(labels: np.ndarray, X: np.ndarray, max_dist: float) -> np.ndarray:
    """Join clusters whose centroids are within max_dist (cosine, average linkage over centroids)."""
    ids, C = _centroids(X, labels)
    if len(ids) < 2:
        return labels
    from sklearn.cluster import AgglomerativeClustering

    group = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=max_dist
    ).fit_predict(C)
    out = labels.copy()
    for i, g in zip(ids, group):
        out[labels == i] = g
    return out


def _attach_near(labels: np.ndarray, X: np.ndarray, max_dist: float) -> np.ndarray:
    """Outliers within max_dist (cosine) of a cluster's centroid join the nearest cluster."""
    ids, C = _centroids(X, labels)
    out_idx = np.where(labels == UNASSIGNED)[0]
    if not ids or not len(out_idx):
        return labels
    sim = X[out_idx] @ C.T
    best = sim.argmax(axis=1)
    near = (1.0 - sim[np.arange(len(out_idx)), best]) <= max_dist
    out = labels.copy()
    out[out_idx[near]] = np.asarray(ids)[best[near]]
    return out


@dataclass
class AgglomerativeClusterer:
    """Average-linkage clustering on cosine distance, cut at a distance threshold; small clusters -> -1.

    Two optional passes after the cut (both measured on the citizen appeals, docs/themes.md): clusters whose
    centroids are within `merge_threshold` are joined (one broad complaint, such as potholes, is described in
    many ways and a single cut splits it into fragments), then outliers within `attach_threshold` of a
    cluster's centroid join it. The number of themes is never given."""

    distance_threshold: float = 0.12
    min_cluster_size: int = 3
    merge_threshold: float | None = None
    attach_threshold: float | None = None

    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        if n < max(2, self.min_cluster_size):
            return np.full(n, UNASSIGNED, dtype=int)
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=self.distance_threshold
        ).fit_predict(X)
        labels = _drop_small(labels, self.min_cluster_size)
        if self.merge_threshold:
            labels = _merge_close(labels, X, self.merge_threshold)
        if self.attach_threshold:
            labels = _attach_near(labels, X, self.attach_threshold)
        return _drop_small(labels, self.min_cluster_size)


def _prune_far(labels: np.ndarray, X: np.ndarray, max_dist: float) -> np.ndarray:
    """Members farther than max_dist (cosine) from their cluster's centroid become outliers."""
    labels = labels.copy()
    for lab in set(labels.tolist()) - {UNASSIGNED}:
        idx = np.where(labels == lab)[0]
        c = X[idx].mean(axis=0)
        c = c / max(float(np.linalg.norm(c)), 1e-12)
        labels[idx[(1.0 - X[idx] @ c) > max_dist]] = UNASSIGNED
    return labels


@dataclass
class HdbscanClusterer:
    """Density clusters; HDBSCAN attaches stray points to a cluster, so members farther than
    `max_centroid_distance` from the centroid are pruned back to outliers."""

    min_cluster_size: int = 3
    min_samples: int | None = 2
    max_centroid_distance: float | None = None

    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        if n < max(3, self.min_cluster_size):
            return np.full(n, UNASSIGNED, dtype=int)
        from sklearn.cluster import HDBSCAN

        # On unit vectors euclidean distance is a monotone function of cosine distance.
        labels = HDBSCAN(
            min_cluster_size=max(2, self.min_cluster_size), min_samples=self.min_samples, copy=True
        ).fit_predict(X)
        if self.max_centroid_distance is not None:
            labels = _prune_far(labels, X, self.max_centroid_distance)
        return _drop_small(labels, self.min_cluster_size)


def make_clusterer(settings) -> Clusterer:
    t = settings.themes
    if t.method == "hdbscan":
        return HdbscanClusterer(min_cluster_size=t.min_cluster_size, max_centroid_distance=t.distance_threshold)
    return AgglomerativeClusterer(
        distance_threshold=t.distance_threshold,
        min_cluster_size=t.min_cluster_size,
        merge_threshold=t.merge_threshold,
        attach_threshold=t.attach_threshold,
    )


# --------------------------------------------------------------------------------------------- one batch


@dataclass
class ThemeFit:
    labels: np.ndarray  # per text, -1 = unassigned
    centroids: dict[int, np.ndarray]  # L2-normalised mean of the members' (raw) embeddings
    keywords: dict[int, list[tuple[str, float]]]
    distances: np.ndarray  # cosine distance of each text to its theme's centroid in the clustering space
    names: dict[int, str] = field(default_factory=dict)


def center(X: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Subtract the batch mean and re-normalise. Sentence encoders such as e5 put every text in a narrow cone
    (cosine ~0.85 between unrelated complaints); removing the shared direction spreads it out."""
    from models.embed import l2_normalise

    if len(X) == 0:
        return X
    mu = X.mean(axis=0) if mean is None else mean
    return l2_normalise(X - mu)


REF_PRIOR = 100  # texts' worth of weight the reference mean gets against a batch's own mean
REF_TEXTS = 300
_SEED_FILE = bundled("training", "intent_seed.csv")


def reference_mean(settings, embedder) -> np.ndarray | None:
    """Mean embedding of a fixed mixed corpus (the shipped intent seed set: questions, failures, complaints,
    praise, chatter), cached per embedder in the model cache. None for transductive embedders (TF-IDF)."""
    from models.embed import TfidfEmbedder

    if isinstance(embedder, TfidfEmbedder) or not _SEED_FILE.exists():
        return None
    from pipeline.store import stable_id

    cache = Path(settings.models.cache_dir) / f"themes-ref-mean-{stable_id(embedder.name, REF_TEXTS)}.npy"
    if cache.exists():
        return np.load(cache)
    texts = pd.read_csv(_SEED_FILE)["text"].astype(str).tolist()
    texts = [texts[i] for i in np.random.RandomState(0).permutation(len(texts))[:REF_TEXTS]]
    mu = embedder.encode(texts).mean(axis=0).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, mu)
    os.replace(tmp, cache)
    return mu


def shrunk_mean(X: np.ndarray, ref: np.ndarray | None) -> np.ndarray:
    """The centring vector: the batch mean shrunk toward the reference mean. A small batch (a brand with a
    dozen complaints) centred on itself alone would blow its few themes apart; a large one is mostly itself."""
    if ref is None or len(X) == 0:
        return X.mean(axis=0)
    w = len(X) / (len(X) + REF_PRIOR)
    return w * X.mean(axis=0) + (1 - w) * ref


def lexical_vectors(docs_lemmas: Sequence[Sequence[str]], dim: int = 100) -> np.ndarray | None:
    """TF-IDF over lemmas reduced by SVD (fitted on the batch); None when the batch is too small for it."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    from models.embed import l2_normalise

    docs = [" ".join(d) for d in docs_lemmas]
    if len(docs) < 3 or sum(1 for d in docs if d) < 2:
        return None
    try:
        V = TfidfVectorizer(sublinear_tf=True, min_df=2 if len(docs) >= 50 else 1, token_pattern=r"\S+").fit_transform(
            docs
        )
    except ValueError:  # empty vocabulary
        return None
    k = min(dim, V.shape[0] - 1, V.shape[1] - 1)
    if k < 2:
        return None
    return l2_normalise(TruncatedSVD(n_components=k, random_state=0).fit_transform(V))


def cluster_space(X: np.ndarray, docs_lemmas: Sequence[Sequence[str]], settings, mean=None) -> np.ndarray:
    """What the clusterer sees: centred embeddings, optionally joined with lemma TF-IDF (weight
    ``settings.themes.lexical_weight``) because complaint topics are largely lexical (ямы, освещение, возврат)."""
    from models.embed import l2_normalise

    E = center(X, mean)
    w = settings.themes.lexical_weight
    T = lexical_vectors(docs_lemmas) if w > 0 else None
    if T is None:
        return E
    return l2_normalise(np.hstack([E * (1 - w) ** 0.5, T * w**0.5]))


def fit_themes(
    texts: Sequence[str],
    X: np.ndarray,
    settings,
    clusterer: Clusterer | None = None,
    extra_stop: Sequence[str] = (),
    mean: np.ndarray | None = None,
) -> ThemeFit:
    """Cluster texts given their raw embeddings X (one row per text) and describe each cluster."""
    clusterer = clusterer or make_clusterer(settings)
    stop = stop_lemmas(extra_stop)
    lems = [lemmas(t, stop) for t in texts]
    if len(X) == 0:
        return ThemeFit(np.zeros(0, dtype=int), {}, {}, np.zeros(0))
    H = cluster_space(X, lems, settings, mean)
    labels = clusterer.fit_predict(H)
    kw = ctfidf_keywords(lems, labels.tolist(), top_n=settings.themes.n_keywords)
    centroids: dict[int, np.ndarray] = {}
    dist = np.full(len(texts), np.nan)
    for lab in sorted(set(labels.tolist()) - {UNASSIGNED}):
        idx = np.where(labels == lab)[0]
        c = X[idx].mean(axis=0)
        centroids[lab] = (c / max(float(np.linalg.norm(c)), 1e-12)).astype(np.float32)
        h = H[idx].mean(axis=0)
        h = h / max(float(np.linalg.norm(h)), 1e-12)
        dist[idx] = 1.0 - H[idx] @ h
    names = {lab: label_from_keywords(kw.get(lab, [])) for lab in centroids}
    return ThemeFit(labels=labels, centroids=centroids, keywords=kw, distances=dist, names=names)


def theme_inputs(texts: Sequence[str | None], settings) -> list[str]:
    """The texts as clustered: boilerplate removed (`models.theme_text`) unless ``themes.clean_text`` is off."""
    from models.theme_text import topic_text

    plain = [str(t) if t is not None else "" for t in texts]
    return [topic_text(t) for t in plain] if settings.themes.clean_text else plain


def cluster_texts(texts: Sequence[str], settings, embedder=None, clusterer: Clusterer | None = None):
    """(labels, label_names): one int per text (-1 = unassigned) and a readable name per theme."""
    if embedder is None:
        from models.embed import get_embedder

        embedder = get_embedder(settings)
    texts = theme_inputs(texts, settings)
    X = embedder.encode(texts)
    fit = fit_themes(texts, X, settings, clusterer, mean=shrunk_mean(X, reference_mean(settings, embedder)))
    return fit.labels.tolist(), fit.names


def cluster_metrics(true_labels: Sequence, pred: Sequence[int]) -> dict:
    """ARI/NMI on assigned texts, the same with each unassigned text as its own singleton, unassigned share."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    y = [str(t) for t in true_labels]
    p = np.asarray(pred, dtype=int)
    n = len(y)
    mask = p >= 0
    ya = [t for t, m in zip(y, mask) if m]
    pa = p[mask]
    singleton = [f"u{i}" if lab < 0 else str(lab) for i, lab in enumerate(p)]
    out = {
        "n": n,
        "n_labels": len(set(y)),
        "n_themes": int(len(set(pa.tolist()))),
        "unassigned_share": round(float(1 - mask.mean()) if n else 0.0, 4),
        "ari": round(float(adjusted_rand_score(ya, pa)), 4) if len(ya) > 1 else 0.0,
        "nmi": round(float(normalized_mutual_info_score(ya, pa)), 4) if len(ya) > 1 else 0.0,
        "ari_all": round(float(adjusted_rand_score(y, singleton)), 4) if n > 1 else 0.0,
        "nmi_all": round(float(normalized_mutual_info_score(y, singleton)), 4) if n > 1 else 0.0,
    }
    return out


def evaluate_themes(texts: Sequence[str], labels: Sequence, settings, embedder=None) -> dict:
    """Cluster texts and compare with reference topic labels (see `cluster_metrics`)."""
    import time

    t0 = time.perf_counter()
    pred, _ = cluster_texts(texts, settings, embedder=embedder)
    out = cluster_metrics(labels, pred)
    out["texts_per_s"] = round(len(texts) / max(time.perf_counter() - t0, 1e-9), 2)
    return out


# --------------------------------------------------------------------------------------------- identity


def match_centroids(
    prev: dict[str, np.ndarray], new: dict[int, np.ndarray], threshold: float, mean: np.ndarray | None = None
) -> dict[int, tuple[str, float]]:
    """new cluster label -> (previous theme id, cosine) by Hungarian assignment, kept when cosine >= threshold.

    Centroids are stored raw; both sides are centred by this run's mean embedding before comparing, so the
    threshold means the same as in the clustering space (raw e5 cosines are all high)."""
    if not prev or not new:
        return {}
    from scipy.optimize import linear_sum_assignment

    pids = list(prev)
    nids = list(new)
    P = np.stack([prev[i] for i in pids]).astype(np.float32)
    N = np.stack([new[i] for i in nids]).astype(np.float32)
    if mean is not None:
        P, N = center(P, mean), center(N, mean)
    else:
        from models.embed import l2_normalise

        P, N = l2_normalise(P), l2_normalise(N)
    sim = N @ P.T
    rows, cols = linear_sum_assignment(-sim)
    return {nids[r]: (pids[c], float(sim[r, c])) for r, c in zip(rows, cols) if sim[r, c] >= threshold}


def theme_status(size: int, prev_size: int | None, settings) -> str:
    t = settings.themes
    if not prev_size:
        return "new"
    if size >= prev_size * t.growth_ratio and size - prev_size >= 2:
        return "growing"
    if size <= prev_size * t.fade_ratio:
        return "fading"
    return "stable"


# --------------------------------------------------------------------------------------------- stage

_MENTIONS_SQL = """
SELECT m.mention_id, m.brand_id, m.context,
       coalesce(d.posted_at, d.fetched_at, m.created_at) AS at
FROM mentions m
JOIN documents d ON d.doc_id = m.doc_id
JOIN current_scores cs ON cs.mention_id = m.mention_id
WHERE (cs.sentiment = 'negative' OR cs.intent LIKE '%complaint%' OR cs.intent LIKE '%failure%')
  AND coalesce(d.spam, FALSE) = FALSE
  AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
  AND coalesce(d.posted_at, d.fetched_at, m.created_at) >= ?
ORDER BY m.brand_id, m.mention_id
"""


def _brand_words(store) -> dict[str, list[str]]:
    try:
        b = store.query("SELECT brand_id, name, aliases_json FROM brands")
    except Exception:  # no brands table content yet
        return {}
    out: dict[str, list[str]] = {}
    for r in b.itertuples():
        words = [r.name or "", r.brand_id]
        try:
            words += list(json.loads(r.aliases_json or "[]"))
        except (TypeError, ValueError):
            pass
        out[r.brand_id] = [w for w in words if isinstance(w, str)]
    return out


def update_themes(settings, store, *, now: datetime | None = None, embedder=None, clusterer=None) -> dict:
    """Re-cluster each brand's negative / complaint / failure mentions of the lookback window.

    Writes `themes` (upsert, ids stable across runs) and replaces the brand's `theme_members`. A re-run on
    unchanged data changes nothing (same ids, sizes, statuses). Previous themes with no cluster this time
    are kept with size 0 and status 'fading'.
    """
    from pipeline.store import stable_id, utcnow

    now = now or utcnow()
    since = now - timedelta(days=settings.themes.lookback_days)
    rows = store.query(_MENTIONS_SQL, [since])
    prev = store.query(
        "SELECT theme_id, brand_id, label, keywords_json, centroid, first_seen, last_seen, size, prev_size, status "
        "FROM themes"
    )
    prev_members = store.query("SELECT theme_id, mention_id FROM theme_members")
    members_of = prev_members.groupby("theme_id")["mention_id"].apply(frozenset).to_dict()
    counts = {
        "brands": 0,
        "mentions": int(len(rows)),
        "themes": 0,
        "assigned": 0,
        "unassigned": 0,
        "new": 0,
        "growing": 0,
        "stable": 0,
        "fading": 0,
        "unchanged": 0,
    }
    brands = sorted(set(rows["brand_id"]) | set(prev["brand_id"].dropna()))
    if not brands:
        return counts
    if embedder is None and len(rows):
        from models.embed import get_embedder

        embedder = get_embedder(settings)
    contexts = theme_inputs(rows["context"].fillna("").tolist(), settings)
    X_all = embedder.encode(contexts) if len(rows) else np.zeros((0, 0), np.float32)
    mu = shrunk_mean(X_all, reference_mean(settings, embedder)) if len(X_all) else None
    brand_words = _brand_words(store)

    theme_rows: list[dict] = []
    member_rows: list[dict] = []
    for brand in brands:
        sel = np.where(rows["brand_id"].to_numpy() == brand)[0]
        sub = rows.iloc[sel]
        bprev = prev[prev["brand_id"] == brand]
        prev_cent = {
            r.theme_id: np.asarray(r.centroid, dtype=np.float32)
            for r in bprev.itertuples()
            if r.centroid is not None and len(r.centroid) and (r.size or 0) > 0
        }
        if len(sub):
            counts["brands"] += 1
            fit = fit_themes(
                [contexts[i] for i in sel],
                X_all[sel],
                settings,
                clusterer,
                extra_stop=brand_words.get(brand, [brand]),
                mean=mu,
            )
        else:
            fit = ThemeFit(np.zeros(0, dtype=int), {}, {}, np.zeros(0))
        matched = match_centroids(prev_cent, fit.centroids, settings.themes.match_threshold, mu)
        counts["assigned"] += int((fit.labels >= 0).sum())
        counts["unassigned"] += int((fit.labels < 0).sum())
        used: set[str] = set()
        for lab, cent in fit.centroids.items():
            idx = np.where(fit.labels == lab)[0]
            mids = sub["mention_id"].iloc[idx].tolist()
            ats = pd.to_datetime(sub["at"].iloc[idx], utc=True)
            size = len(mids)
            if lab in matched:
                tid = matched[lab][0]
                old = bprev[bprev["theme_id"] == tid].iloc[0]
                if members_of.get(tid, frozenset()) == frozenset(mids):
                    prev_size, status = old["prev_size"], old["status"]  # same members: a no-op re-run
                    counts["unchanged"] += 1
                else:
                    prev_size = int(old["size"] or 0)
                    status = theme_status(size, prev_size, settings)
                first_seen = min(x for x in [old["first_seen"], ats.min()] if pd.notna(x))
            else:
                tid = stable_id("theme", brand, *sorted(mids))
                prev_size, status, first_seen = 0, "new", ats.min()
            used.add(tid)
            if not (lab in matched and members_of.get(tid, frozenset()) == frozenset(mids)):
                counts[status] = counts.get(status, 0) + 1  # unchanged themes are counted as such only
            theme_rows.append(
                {
                    "theme_id": tid,
                    "brand_id": brand,
                    "label": fit.names[lab],
                    "keywords_json": json.dumps([k for k, _ in fit.keywords.get(lab, [])], ensure_ascii=False),
                    "centroid": [float(v) for v in cent],
                    "first_seen": first_seen,
                    "last_seen": ats.max(),
                    "size": size,
                    "prev_size": None if pd.isna(prev_size) else int(prev_size),
                    "status": status,
                    "updated_at": now,
                }
            )
            member_rows += [
                {"theme_id": tid, "mention_id": m, "distance": float(fit.distances[i])} for m, i in zip(mids, idx)
            ]
        for r in bprev.itertuples():  # themes with no cluster this run
            if r.theme_id in used or not (r.size or 0):
                continue
            counts["fading"] += 1
            theme_rows.append(
                {
                    "theme_id": r.theme_id,
                    "brand_id": brand,
                    "label": r.label,
                    "keywords_json": r.keywords_json,
                    "centroid": None if r.centroid is None else [float(v) for v in r.centroid],
                    "first_seen": r.first_seen,
                    "last_seen": r.last_seen,
                    "size": 0,
                    "prev_size": int(r.size),
                    "status": "fading",
                    "updated_at": now,
                }
            )
    counts["themes"] = sum(1 for t in theme_rows if t["size"] > 0)

    with store.write() as con:
        if brands:
            ph = ", ".join("?" for _ in brands)
            con.execute(
                f"DELETE FROM theme_members WHERE theme_id IN (SELECT theme_id FROM themes WHERE brand_id IN ({ph}))",
                brands,
            )
        if theme_rows:
            df = pd.DataFrame(theme_rows)
            df["centroid"] = df["centroid"].astype(object)
            store.upsert("themes", df, key=["theme_id"], con=con)
        if member_rows:
            store.upsert("theme_members", pd.DataFrame(member_rows), key=["theme_id", "mention_id"], con=con)
    log.info("themes updated: %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts
