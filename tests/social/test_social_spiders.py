"""VK, YouTube and review spiders against the local API stand-ins: paging, retries, quota, deleted items,
incremental second runs, and secrets kept out of logs, raw files and the database."""

from __future__ import annotations

import gzip
import json

import pytest
import yaml

from demo.standins import VK_TOKEN, YT_KEY

from ..helpers import NOW, read_items
from .conftest import ROOT, sources_settings

SOCIAL = ["demo-vk", "demo-youtube", "demo-reviews", "demo-marketplace"]


def _settings(tmp_path, url, patch=None):
    return sources_settings(
        tmp_path, url, SOCIAL, patch, crawl={"retry_backoff_seconds": 0.05, "retry_backoff_max_seconds": 0.2}
    )


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("BRANDMON_VK_TOKEN", VK_TOKEN)
    monkeypatch.setenv("BRANDMON_YOUTUBE_API_KEY", YT_KEY)


def _expected_vk(demo) -> set[str]:
    vk = demo.social.vk
    ids = set()
    for owner, posts in vk["walls"].items():
        group = next((g for g in vk["groups"] if -g["id"] == owner), {})
        if group.get("private"):
            continue
        for p in posts:
            ids.add(f"{owner}_{p['id']}")
            ids |= {f"{owner}_{p['id']}_c{c['id']}" for c in p.get("comments", []) if not c.get("deleted")}
    return ids


# every social source end to end; the quota, missing-secret and official-author tests keep them fast
@pytest.mark.slow
def test_social_crawl_end_to_end(tmp_path, demo, secrets_env, caplog):
    from crawlers.run import crawl_sources
    from pipeline.store import Store

    settings = _settings(tmp_path, demo.url)
    store = Store.from_settings(settings)
    store.upgrade()
    res = crawl_sources(settings, store, SOCIAL, now=NOW)

    vk = res["sources"]["demo-vk"]
    vk_items = read_items(vk["raw_path"])
    assert {i["post_id"] for i in vk_items} == _expected_vk(demo)  # every post and comment, no deleted ones
    assert len(vk_items) == len({i["post_id"] for i in vk_items})  # search hits did not duplicate wall posts
    assert demo.social.calls["vk.wall.get"] >= 5  # the rate-limited first call was retried
    assert "VKAccessDenied" in vk["error_kinds"]  # the private wall is recorded, not fatal
    answer = next(i for i in vk_items if i["post_id"] == "-210001_901_c9012")
    assert answer["is_official_answer"] and answer["reply_to"] == "-210001_901_c9011"

    yt = read_items(res["sources"]["demo-youtube"]["raw_path"])
    expected_yt = {t["id"] for v in demo.social.yt["videos"] for t in v["threads"]} | {
        r["id"] for v in demo.social.yt["videos"] for t in v["threads"] for r in t.get("replies", [])
    }
    assert sorted(i["post_id"] for i in yt) == sorted(expected_yt)  # 4 replies of one thread via comments.list
    assert any(k.startswith("YouTube:commentsDisabled") for k in res["sources"]["demo-youtube"]["error_kinds"])
    top = next(i for i in yt if i["post_id"] == "Ugw_top_001")
    assert top["reach"] == 184000 and top["replies"] == 4 and top["thread_title"].startswith("Заказал 10 вещей")

    reviews = read_items(res["sources"]["demo-reviews"]["raw_path"])
    assert len([i for i in reviews if not i["is_official_answer"]]) == 6  # two pages of three
    assert {i["reply_to"] for i in reviews if i["is_official_answer"]} == {"r1001"}
    assert {i["rating"] for i in reviews if i["post_id"] == "r1004"} == {1.0}
    market = read_items(res["sources"]["demo-marketplace"]["raw_path"])
    assert sorted(i["post_id"] for i in market) == ["fb-1", "fb-2", "fb-2-answer", "fb-3", "fb-4"]

    # secrets: nowhere in raw files, run metadata, the database or the logs
    blobs = [p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file() and not p.suffix == ".gz"]
    blobs += [gzip.open(p).read() for p in (tmp_path / "data").rglob("*.gz")]
    for secret in (VK_TOKEN, YT_KEY):
        assert not any(secret.encode() in b for b in blobs)
        assert secret not in caplog.text
    dump = store.query("SELECT * FROM crawl_runs").to_json(date_format="iso")
    assert VK_TOKEN not in dump and YT_KEY not in dump

    # second run: only what is new
    demo.social.add_vk_comment(
        -210002, 701, {"id": 7016, "from_id": 5001, "minutes_ago": 1, "text": "Ласточка, приложение опять вылетает!"}
    )
    demo.social.add_yt_reply(
        "vShopok0001",
        "Ugw_top_001",
        {"id": "Ugw_top_001.r5", "author": "Ann", "channel": "UCx", "minutes_ago": 1, "text": "+1"},
    )
    before = dict(demo.social.calls)
    res2 = crawl_sources(settings, store, ["demo-vk", "demo-youtube", "demo-reviews"], now=NOW)
    assert [i["post_id"] for i in read_items(res2["sources"]["demo-vk"]["raw_path"])] == ["-210002_701_c7016"]
    assert [i["post_id"] for i in read_items(res2["sources"]["demo-youtube"]["raw_path"])] == ["Ugw_top_001.r5"]
    assert read_items(res2["sources"]["demo-reviews"]["raw_path"]) == []
    comments_calls = demo.social.calls["vk.wall.getComments"] - before.get("vk.wall.getComments", 0)
    assert comments_calls == 1  # only the post whose comment count grew


def test_missing_secret_disables_source_cleanly(tmp_path, demo, monkeypatch):
    from crawlers.run import crawl_sources
    from pipeline.store import Store

    monkeypatch.delenv("BRANDMON_VK_TOKEN", raising=False)
    monkeypatch.setenv("BRANDMON_YOUTUBE_API_KEY", YT_KEY)
    settings = _settings(tmp_path, demo.url)
    store = Store.from_settings(settings)
    store.upgrade()
    res = crawl_sources(settings, store, ["demo-vk", "demo-marketplace"], now=NOW)
    assert res["sources"]["demo-vk"]["items"] == 0
    assert res["sources"]["demo-vk"]["error_kinds"] == {"NotConfigured": 1}
    assert demo.social.calls["vk.wall.get"] == 0  # nothing was sent without a token
    assert res["sources"]["demo-marketplace"]["items"] == 5  # the other sources still ran
    msg = store.query("SELECT error_summary_json FROM crawl_runs WHERE source_id='demo-vk'").iloc[0, 0]
    assert "BRANDMON_VK_TOKEN" in msg and "is not set" in msg


def test_youtube_quota_stops_cleanly(tmp_path, demo, secrets_env):
    from crawlers.run import crawl_sources
    from pipeline.store import Store

    # 2 searches cost 200; a quota of 203 leaves room for one videos.list and two commentThreads calls
    settings = _settings(
        tmp_path,
        demo.url,
        {"demo-youtube": {"options": {"search": ["шопок", "мобилайн"], "daily_quota": 203, "official_channels": []}}},
    )
    store = Store.from_settings(settings)
    store.upgrade()
    res = crawl_sources(settings, store, ["demo-youtube"], now=NOW)["sources"]["demo-youtube"]
    assert res["error_kinds"].get("QuotaExhausted", 0) >= 1
    ledger = json.loads(next((tmp_path / "data" / "state").glob("youtube-quota-*.json")).read_text())
    assert list(ledger.values()) == [203]  # spent exactly up to the quota, never past it
    assert demo.social.yt_used <= 203


def test_official_authors_mark_the_brands_own_posts(tmp_path, demo):
    """`options.official_authors` in sources.yaml: the brand's own channel posts count as official answers."""
    from crawlers.run import crawl_sources
    from pipeline.store import Store

    settings = _settings(tmp_path, demo.url)
    data = yaml.safe_load((ROOT / "data" / "sources.yaml").read_text(encoding="utf-8"))
    data["sources"] = [s for s in data["sources"] if s["name"] == "demo-tg"]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    store = Store.from_settings(settings)
    store.upgrade()
    res = crawl_sources(settings, store, ["demo-tg"], now=NOW)["sources"]["demo-tg"]
    items = read_items(res["raw_path"])
    official = [i for i in items if i["is_official_answer"]]
    assert official and all(i["author"] == "Посылкин Экспресс" for i in official)
    # its channel posts and its answers in the channel's discussion group
    assert all(i["post_id"].startswith(("posylkin_express/", "posylkin_chat/")) for i in official)
    assert not any(i["is_official_answer"] for i in items if i["author"] != "Посылкин Экспресс")
