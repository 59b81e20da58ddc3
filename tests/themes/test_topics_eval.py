"""Theme quality on real complaints with topic labels (../shared/data/topics), and `brandmon cluster`."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.themes import cluster_metrics, evaluate_themes


def topics_slice(shared_data, n_topics=10, per_topic=12):
    d = pd.read_csv(shared_data / "topics" / "citizen_appeals_topics.csv")
    top = d.topic.value_counts().index[:n_topics]
    d = d[d.topic.isin(top)].sample(frac=1, random_state=0)
    return d.groupby("topic").head(per_topic).reset_index(drop=True)


def test_cluster_metrics_edge_cases():
    m = cluster_metrics(["a", "a", "b", "b"], [0, 0, 1, -1])
    assert m["unassigned_share"] == 0.25 and m["ari"] == 1.0 and m["n_themes"] == 2
    assert cluster_metrics(["a", "b", "c"], [-1, -1, -1])["unassigned_share"] == 1.0


# a quality measurement (embeds and clusters 120 real texts)
@pytest.mark.slow
def test_ari_nmi_on_topics_slice(shared_data, settings, embedder):
    d = topics_slice(shared_data)
    m = evaluate_themes(d.text.tolist(), d.topic.tolist(), settings, embedder=embedder)
    print(m)
    # see README "Complaint themes"; floors leave ~0.1 of headroom below the measured values
    assert m["n"] == 120 and m["n_labels"] == 10
    assert m["ari"] >= FLOORS["ari"], m
    assert m["nmi"] >= FLOORS["nmi"], m
    assert m["unassigned_share"] <= FLOORS["unassigned_share"], m


FLOORS = {"ari": 0.42, "nmi": 0.70, "unassigned_share": 0.55}  # measured: 0.70, 0.89, 0.44 (0.55, 0.81, 0.43 before
# the merge and attach passes)


def test_cluster_command_writes_theme_columns(tmp_path, embedder):
    from brandmon.cli import app

    rows = [f"Не горит фонарь на улице {s}, освещения нет" for s in ("Мира", "Ленина", "Гагарина", "Садовой")]
    rows += [f"Яма на дороге на улице {s}, асфальт разбит" for s in ("Мира", "Ленина", "Гагарина", "Садовой")]
    rows += ["Соседи шумят по ночам"]
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": range(len(rows)), "body": rows}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "d"), "cluster", str(src), "--text-col", "body", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    res = pd.read_csv(out)
    assert list(res.columns) == ["id", "body", "theme_id", "theme_label"]
    lamp, pit = set(res.theme_id[:4]), set(res.theme_id[4:8])
    assert len(lamp) == 1 and len(pit) == 1 and lamp != pit and -1 not in lamp | pit
    assert res.theme_id[8] == -1
    assert "фонарь" in res.theme_label[0] or "освещение" in res.theme_label[0]
    bad = CliRunner().invoke(app, ["cluster", str(src), "--text-col", "text", "--out", str(out)])
    assert bad.exit_code == 2 and "missing column 'text'" in bad.output
    from pipeline.logs import configure_logging

    configure_logging("INFO")  # the CLI bound the log handler to the runner's closed stderr


# a quality measurement (embeds and clusters 502 real appeals), on the half not used for tuning
@pytest.mark.slow
def test_default_threshold_on_held_out_appeals_half(shared_data, settings, embedder):
    """Half B of the citizen appeals (split by a hash of the text; thresholds were swept on half A), scored
    against the fine topics and the coarse responsible body (docs/themes.md)."""
    import hashlib

    d = pd.read_csv(shared_data / "topics" / "citizen_appeals_topics.csv")
    d = d[[int(hashlib.sha256(t.encode()).hexdigest(), 16) % 2 == 1 for t in d.text]]
    from models.themes import cluster_texts

    pred, _ = cluster_texts(d.text.tolist(), settings, embedder=embedder)
    fine, coarse = cluster_metrics(d.topic.tolist(), pred), cluster_metrics(d.responsible.tolist(), pred)
    print(fine, coarse)  # measured: fine ARI 0.32, NMI 0.69, unassigned 0.25, ari_all 0.26; coarse NMI 0.47
    assert fine["n"] == 502 and fine["n_labels"] > 80
    assert fine["ari"] >= 0.27 and fine["nmi"] >= 0.63 and fine["unassigned_share"] <= 0.35, fine
    assert fine["ari_all"] >= 0.21, fine
    assert coarse["nmi"] >= 0.42, coarse


def held_out_slice(shared_data, n_topics=12, per_topic=10):
    """The held-out appeals half's largest topics, up to per_topic texts each (in hash order: no choice)."""
    import hashlib

    d = pd.read_csv(shared_data / "topics" / "citizen_appeals_topics.csv")
    key = [int(hashlib.sha256(t.encode()).hexdigest(), 16) for t in d.text]
    d = d.assign(key=key)[[k % 2 == 1 for k in key]].sort_values("key")
    top = d.topic.value_counts().index[:n_topics]
    return d[d.topic.isin(top)].groupby("topic").head(per_topic).reset_index(drop=True)


# a quality measurement (embeds and clusters 120 real appeals) of the shipped defaults
@pytest.mark.slow
def test_shipped_defaults_on_a_held_out_appeals_slice(shared_data, settings, embedder):
    from models.themes import cluster_texts

    d = held_out_slice(shared_data)
    pred, names = cluster_texts(d.text.tolist(), settings, embedder=embedder)
    m = cluster_metrics(d.topic.tolist(), pred)
    print(m, names)
    assert m["n"] == 120 and m["n_labels"] == 12
    assert m["ari"] >= SLICE_FLOORS["ari"] and m["ari_all"] >= SLICE_FLOORS["ari_all"], m
    assert m["unassigned_share"] <= SLICE_FLOORS["unassigned_share"], m


# measured with the shipped defaults: ARI 0.62, ari_all 0.37, unassigned 0.39 (the previous defaults, cut at 0.78
# without the merge and attach passes: 0.66, 0.36, 0.42)
SLICE_FLOORS = {"ari": 0.52, "ari_all": 0.30, "unassigned_share": 0.50}
