"""Hostile posts through the real ingest (raw JSON lines → DuckDB file), then the dashboard pages in Streamlit's
AppTest: no payload becomes HTML or a link that runs code.

tests/dashboard/test_hostile.py checks the pages against a database written directly (synthetic rows). Here the
rows come out of the ingest, which changes the text on the way: HTML entities are decoded (`&lt;script&gt;` is
stored as `<script>`), names lose their bidi controls, strings are capped. Its page check runs here again, on
this database, and the checks below add what only the ingest path has."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from pipeline.store import text_hash, utcnow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the dashboard suite's AppTest fixtures and its hostile-page check, reused rather than copied
_dash_conftest = _load(HERE.parent / "dashboard" / "conftest.py", "_security_dashboard_conftest")
_dash_hostile = _load(HERE.parent / "dashboard" / "test_hostile.py", "_security_dashboard_hostile")
app_test = _dash_conftest.app_test
use_db = _dash_conftest.use_db
UNESCAPED_LT = _dash_hostile.UNESCAPED_LT
rendered_tags = _dash_hostile._rendered_tags

BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# what the pages' own markdown may produce: formatting without attributes (no href, src, on…, style)
FORMATTING = {"p", "strong", "em", "br", "code", "pre", "ul", "ol", "li", "hr", "blockquote", "h1", "h2", "h3", "h4"}
PAGES = ("mentions", "queue", "themes", "alerts", "authors", "overview")

# (text, thread title, author, url): every one carries a payload, each post names a brand
PAYLOADS = [
    (
        "<script>alert('xss')</script> ШопОк украл мои деньги",
        "<script>alert('title')</script> **ШопОк**",
        "<img src=x onerror=alert(1)>",
        "javascript:alert(document.cookie)",
    ),
    (
        '<img src=x onerror="alert(2)"> Посылкин потерял посылку',
        "<b onmouseover=alert(3)>Посылкин</b>",
        "admin\u202egnp.exe",
        "JaVaScRiPt:alert(4)",
    ),
    (
        "[нажми сюда](javascript:alert(5)) Мобилайн — жулики",
        "[тема](javascript:alert(6))",
        "[автор](javascript:alert(7))",
        "data:text/html,<script>alert(8)</script>",
    ),
    (
        "&lt;script&gt;alert(9)&lt;/script&gt; Ласточка Банк заблокировал карту &amp;&#60;img src=x onerror=alert(10)&#62;",
        "&lt;iframe src=javascript:alert(11)&gt;",
        "&#60;svg onload=alert(12)&#62;",
        "//evil.example/x",
    ),
    (
        "ШопОк \u202eьгнед лунрев\u202c и <a href='javascript:alert(13)'>ссылка</a>",
        "Тема \u2066\u202eвсё ок\u2069 про ШопОк",
        "\u202dИван\u202c\u200f",
        'https://ok.example/t/1"onmouseover=alert(14)',
    ),
    (
        "<svg/onload=alert(15)> Посылкин ![img](javascript:alert(16)) <style>*{display:none}</style>",
        "<details open ontoggle=alert(17)>",
        "<iframe srcdoc='<script>alert(18)</script>'>",
        "https://ok.example/t/2#p1",
    ),
]


def _items(now) -> list[dict]:
    out = []
    for i, (text, title, author, url) in enumerate(PAYLOADS * 4):  # several per brand, so pages have rows
        out.append(
            {
                "source": "forum-a",
                "kind": "forum",
                "post_id": str(i),
                "url": url,
                "text": f"{text} #{i}",
                "thread_url": f"https://ok.example/t/{i % 3}",
                "thread_title": title,
                "author": f"{author}{i % 6}",
                "author_url": url,
                "posted_at": (now - timedelta(hours=i + 1)).isoformat(),
            }
        )
    return out


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    """The hostile posts ingested for real, scored negative by a stand-in scorer (the models are not what is
    tested), escalated and ranked by the real stages: every page has their text to show."""
    from pipeline import facts
    from pipeline.advocates import update_authors
    from pipeline.config import load_settings
    from pipeline.escalate import escalate
    from pipeline.ingest import ingest_pending
    from pipeline.store import Store

    tmp = tmp_path_factory.mktemp("hostile_ingest")
    settings = load_settings(
        data_dir=tmp / "data", brands_file=ROOT / "data" / "brands.yaml", sources_file=tmp / "none.yaml"
    )
    store = Store.from_settings(settings)
    store.upgrade()
    now = utcnow()
    run = Path(settings.raw_dir) / "hostile"
    run.mkdir(parents=True)
    with gzip.open(run / "items-000.jsonl.gz", "wb") as fh:
        fh.write(b"".join(json.dumps(d, ensure_ascii=False).encode() + b"\n" for d in _items(now)))
    r = ingest_pending(settings, store, run_id="hostile")
    assert r["documents_new"] == len(PAYLOADS) * 4 and r["bad_lines"] == 0

    mentions = store.query("SELECT mention_id, context FROM mentions")
    assert len(mentions) >= len(PAYLOADS) * 4
    scores = pd.DataFrame(
        {
            "mention_id": mentions["mention_id"],
            "model": "stand-in",
            "model_version": "v1",
            "context_hash": [text_hash(c) for c in mentions["context"]],
            "sentiment": "negative",
            "p_neg": 0.9,
            "p_neu": 0.07,
            "p_pos": 0.03,
            "unsure": False,
            "intent": "complaint",
            "intent_probs_json": json.dumps(
                {"complaint": 0.8, "question": 0.05, "failure": 0.05, "praise": 0.05, "other": 0.05}
            ),
            "scored_at": pd.Timestamp(now),
        }
    )
    with store.write() as con:
        store.upsert(
            "models",
            [dict(model="stand-in", model_version="v1", task="score", active=True, created_at=pd.Timestamp(now))],
            ["model", "model_version"],
            con=con,
        )
        store.upsert("scores", scores, ["mention_id", "model_version"], con=con)
        facts.refresh(con)
    assert escalate(settings, store)["created"] > 0
    update_authors(settings, store)
    return Path(settings.db_path)


# the dashboard suite's page check (no unescaped '<', no markdown link, only http(s) URL cells), on this database
test_ingested_posts_in_the_app_are_escaped = _dash_hostile.test_hostile_posts_in_the_app_are_escaped


def test_ingest_stores_the_payloads_as_text(hostile_db):
    """What the pages get: entities decoded into the very tags they spell, names without bidi controls."""
    import duckdb

    con = duckdb.connect(str(hostile_db), read_only=True)
    try:
        d = con.execute("SELECT text, thread_title, author FROM documents").df()
        q = con.execute("SELECT count(*) FROM escalations").fetchone()[0]
    finally:
        con.close()
    assert d["text"].str.contains("<script>alert(9)</script>", regex=False).sum() == 4  # was &lt;script&gt;
    assert not d["author"].str.contains(BIDI).any() and not d["thread_title"].str.contains(BIDI).any()
    assert (d["author"] == "admingnp.exe1").sum() == 4 and q > 0


def _shown(at) -> list[str]:
    return (
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [e.value for e in at.error]
        + [w.value for w in at.warning]
        + [i.value for i in at.info]
        + [s.value for s in at.subheader]
        + [t.value for t in at.title]
    )


def test_no_active_payload_reaches_html_on_any_page(hostile_db, use_db, app_test):
    use_db(hostile_db)
    seen_payload = False
    for page in PAGES:
        at = app_test(page)
        assert not at.exception, (page, [e.value for e in at.exception])
        for md in _shown(at):
            # rendered the way a permissive renderer would (raw HTML allowed): no tag but formatting, no link
            tags = rendered_tags(md)
            assert all(t in FORMATTING and not attrs for t, attrs in tags), (page, md, tags)
            if "author: " in md:  # the mention detail's caption
                assert not BIDI.search(md.split("author: ", 1)[1]), (page, md)
            seen_payload |= "alert" in md  # shown escaped
        for df in at.dataframe:
            v = df.value
            for col in [c for c in v.columns if c == "url" or c.endswith("_url")]:
                links = v[col].dropna()
                assert links.map(
                    lambda u: (
                        str(u).lower().startswith(("http://", "https://")) and not re.search(r"[\s<>\"'`]", str(u))
                    )
                ).all(), (page, col, links.tolist())
            for col in ("author", "name"):
                if col in v.columns:
                    assert not v[col].dropna().astype(str).str.contains(BIDI).any(), (page, col)
    assert seen_payload, "the hostile text should be shown (escaped), not dropped"
