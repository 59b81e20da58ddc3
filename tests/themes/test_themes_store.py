"""update_themes on a real DuckDB: stable ids across runs, a 3-member theme, outliers unassigned, idempotence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.themes import update_themes

from .conftest import NOW, add_scored_mentions

LOST = [
    ("Посылкин потерял мою посылку, трек не обновляется уже две недели, посылка пропала", "negative", "complaint"),
    ("Посылка потерялась на складе Посылкина, где моя посылка? пропала без следа", "negative", "complaint"),
    ("Посылкин снова потерял посылку, отслеживание стоит, посылку найти не могут", "negative", "complaint"),
]
LOST_MORE = [
    ("Моя посылка потеряна Посылкиным, трек пропал и посылку не ищут", "negative", "complaint"),
    ("Опять посылка пропала у Посылкина, потеряли и не отвечают", "negative", "complaint"),
    ("Потерянная посылка: Посылкин признал, что посылка пропала на складе", "negative", "complaint"),
]
APP = [
    ("Приложение Посылкина вылетает при запуске, приложение не открывается на андроиде", "negative", "failure"),
    ("Приложение Посылкин крашится и вылетает после обновления, не открывается", "negative", "failure"),
    ("У Посылкина приложение вылетает на айфоне, открыть приложение невозможно", "negative", "failure"),
    ("Приложение Посылкина опять вылетает, после обновления приложение не запускается", "negative", "failure"),
]
RUDE = [
    ("Курьер Посылкина нахамил и бросил коробку у двери, грубый курьер", "negative", "complaint"),
    ("Грубый курьер Посылкина нахамил мне по телефону и накричал", "negative", "complaint"),
    ("Курьер Посылкина хамил и грубил, когда я попросил подождать", "negative", "complaint"),
]
ODD = [
    ("Посылкин поднял тарифы на доставку крупногабаритных грузов в Сибирь", "negative", "other"),
    ("В Посылкине на горячей линии играет ужасная музыка, уши вянут", "negative", "complaint"),
]
NOT_NEGATIVE = [
    ("Посылкин привёз всё вовремя, спасибо курьеру", "positive", "praise"),
    ("Посылкин потерял посылку? нет, всё пришло, просто спрашиваю сроки", "neutral", "question"),
]


def themes_by_member(store):
    df = store.query(
        "SELECT t.theme_id, t.label, t.keywords_json, t.size, t.prev_size, t.status, m.mention_id "
        "FROM themes t JOIN theme_members m USING (theme_id)"
    )
    return {r.mention_id: r.theme_id for r in df.itertuples()}, df


# three clustering runs with the real embedder; test_theme_outside_lookback_fades keeps the store path fast
@pytest.mark.slow
def test_themes_found_stable_and_idempotent(settings, store, embedder):
    lost = add_scored_mentions(store, "posylkin", LOST, at=NOW - timedelta(days=2))
    app = add_scored_mentions(store, "posylkin", APP, at=NOW - timedelta(days=2))
    rude = add_scored_mentions(store, "posylkin", RUDE, at=NOW - timedelta(days=2))
    odd = add_scored_mentions(store, "posylkin", ODD, at=NOW - timedelta(days=2))
    pos = add_scored_mentions(store, "posylkin", NOT_NEGATIVE, at=NOW - timedelta(days=2))

    c1 = update_themes(settings, store, now=NOW, embedder=embedder)
    assert c1["mentions"] == len(LOST + APP + RUDE + ODD)  # only negative / complaint / failure mentions
    owner1, df1 = themes_by_member(store)
    assert not set(pos) & set(owner1)
    # each planted theme is one cluster of its own (3-member themes included) ...
    for group in (lost, app, rude):
        assert {owner1.get(m) for m in group} != {None}
        assert len({owner1[m] for m in group}) == 1, group
    assert len({owner1[lost[0]], owner1[app[0]], owner1[rude[0]]}) == 3
    assert c1["new"] == 3 and c1["themes"] == 3
    # ... and the two unrelated mentions stay unassigned
    assert not set(odd) & set(owner1)
    assert c1["unassigned"] == 2
    t_lost = owner1[lost[0]]

    # second run: three more lost-parcel mentions arrive, everything else overlaps
    more = add_scored_mentions(store, "posylkin", LOST_MORE, at=NOW)
    c2 = update_themes(settings, store, now=NOW + timedelta(hours=1), embedder=embedder)
    owner2, df2 = themes_by_member(store)
    assert owner2[lost[0]] == t_lost and {owner2[m] for m in more} == {t_lost}
    assert owner2[app[0]] == owner1[app[0]] and owner2[rude[0]] == owner1[rude[0]]
    row = df2[df2.theme_id == t_lost].iloc[0]
    assert (row["size"], row["prev_size"], row["status"]) == (6, 3, "growing")
    assert c2["new"] == 0 and c2["growing"] == 1 and c2["unchanged"] == 2

    # third run on unchanged data: nothing moves
    c3 = update_themes(settings, store, now=NOW + timedelta(hours=2), embedder=embedder)
    owner3, df3 = themes_by_member(store)
    assert owner3 == owner2
    cols = ["theme_id", "size", "prev_size", "status", "mention_id"]
    assert df3[cols].sort_values(cols).values.tolist() == df2[cols].sort_values(cols).values.tolist()
    assert c3["unchanged"] == 3
    assert store.query("SELECT count(*) AS n FROM theme_members").n[0] == 6 + 4 + 3

    # `brandmon themes` lists them, biggest first, with lemma keywords and no brand name in them
    import json

    from typer.testing import CliRunner

    from brandmon.cli import app

    r = CliRunner().invoke(
        app, ["--data-dir", str(settings.data_dir), "themes", "--brand", "posylkin", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    listed = json.loads(r.output)
    assert [t["size"] for t in listed] == [6, 4, 3]
    assert listed[0]["theme_id"] == t_lost and listed[0]["status"] == "growing"
    kws = json.loads(listed[0]["keywords"])
    assert "посылка" in kws and "посылкин" not in kws
    r = CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), "themes", "--brand", "nope"])
    assert r.exit_code == 2 and "unknown brand" in r.output
    # the CLI bound brandmon's log handler to the runner's (now closed) stderr; rebind it for later tests
    from pipeline.logs import configure_logging

    configure_logging("INFO")


def test_theme_outside_lookback_fades(settings, store, embedder):
    app = add_scored_mentions(store, "posylkin", APP, at=NOW - timedelta(days=2))
    update_themes(settings, store, now=NOW, embedder=embedder)
    tid = store.query("SELECT theme_id FROM themes").theme_id.tolist()
    assert len(tid) == 1
    later = NOW + timedelta(days=settings.themes.lookback_days + 1)
    c = update_themes(settings, store, now=later, embedder=embedder)
    t = store.query("SELECT theme_id, size, prev_size, status FROM themes")
    assert t.values.tolist() == [[tid[0], 0, 4, "fading"]]
    assert store.query("SELECT count(*) AS n FROM theme_members").n[0] == 0
    assert c["fading"] == 1
    assert app  # the mentions themselves are untouched
    assert store.query("SELECT count(*) AS n FROM mentions").n[0] == 4
