"""The demo web server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
import zlib

import pytest

from demo.web import corpus
from demo.web.render_misc import ENTRY
from demo.web.server import renderer


def get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def deep_path(site):
    """The last page of the site's longest thread (where the latest replies are)."""
    t = max(site.threads(), key=lambda t: len(t.posts))
    return renderer(site.engine).post_url(site, t, t.posts[-1]).split("#")[0]


def sites():
    return sorted(corpus.load().sites)


@pytest.mark.parametrize("key", sites())
def test_entry_and_deep_page_answer_200_in_the_sites_charset(demo_ro, key):
    site = corpus.load().sites[key]
    for path in (ENTRY[site.engine].format(key=key), deep_path(site)):
        status, headers, body = get(demo_ro.url + path)
        assert status == 200, path
        ctype = headers["Content-Type"]
        if key == "vb":
            assert ctype == "text/html; charset=windows-1251"
            text = body.decode("cp1251")
            assert '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251" />' in text
        else:
            assert "charset=utf-8" in ctype
            text = body.decode("utf-8")
        last = max(site.threads(), key=lambda t: len(t.posts)).posts[-1]
        if path != ENTRY[site.engine].format(key=key):
            # the deep page shows the last post, escaped as HTML (or JSON) requires
            first_words = last.text.split("\n")[0][:25]
            assert (
                first_words.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")[:20] in text
                or first_words[:20] in text
            ), (path, first_words)


def test_robots_txt_disallows_private(demo_ro):
    status, headers, body = get(demo_ro.url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    lines = body.decode().splitlines()
    assert "User-agent: *" in lines and "Disallow: /private/" in lines
    # the disallowed page exists and pages link to it, so a crawler ignoring robots.txt would find it
    assert get(demo_ro.url + "/private/members.html")[0] == 200
    assert b'href="/private/members.html"' in get(demo_ro.url + "/xf/")[2]
    status, headers, body = get(demo_ro.url + "/sitemap.xml")
    assert status == 200 and f"<loc>{demo_ro.url}/vb/</loc>".encode() in body


def test_add_post_shows_up_on_next_request_and_changes_etag(demo, demo_dir):
    site = corpus.load(demo_dir).sites["xf"]
    t = site.threads()[0]
    url = demo.url + renderer("xenforo").post_url(site, t, t.posts[-1]).split("#")[0]
    s1, h1, b1 = get(url)
    assert s1 == 200
    # unchanged page: conditional GET answers 304 with no body
    s304, _, b304 = get(url, {"If-None-Match": h1["ETag"]})
    assert (s304, b304) == (304, b"")
    assert get(url, {"If-Modified-Since": h1["Last-Modified"]})[0] == 304
    pid = corpus.add_post(
        demo_dir,
        "xf",
        t.id,
        "Новичок_42",
        "Только что проверил — у меня тоже нет сети <b>вообще</b>",
        labels="mobiline - complaint no_signal",
    )
    assert pid == str(t.id * 1000 + len(t.posts) + 1)
    s2, h2, b2 = get(url, {"If-None-Match": h1["ETag"]})
    if len(t.posts) % 10 == 0:  # the reply opened a new page
        url = url.rsplit("/", 1)[0] + f"/page-{len(t.posts) // 10 + 1}"
        s2, h2, b2 = get(url)
    assert s2 == 200 and h2["ETag"] != h1["ETag"]
    text = b2.decode()
    assert f'data-content="post-{pid}"' in text
    assert "нет сети &lt;b&gt;вообще&lt;/b&gt;" in text and "<b>вообще</b>" not in text


def test_add_post_rejects_unknown_thread_and_bad_labels(demo_dir):
    with pytest.raises(corpus.CorpusError, match="unknown thread"):
        corpus.add_post(demo_dir, "xf", 999999, "x", "y")
    with pytest.raises(corpus.CorpusError, match="sentiment"):
        corpus.add_post(
            demo_dir, "xf", corpus.load(demo_dir).sites["xf"].threads()[0].id, "x", "y", labels="mobiline bad complaint"
        )
    assert not (demo_dir / "added.jsonl").exists()  # nothing half-written


def test_hits_count_requests_per_path(demo):
    get(demo.url + "/xf/")
    get(demo.url + "/xf/")
    get(demo.url + "/calendar/?month=2024-01")
    assert demo.hits["/xf/"] == 2
    assert demo.hits["/calendar/"] == 1 and demo.hits_full["/calendar/?month=2024-01"] == 1
    assert demo.hits["/private/members.html"] == 0


def test_flaky_is_503_once_per_key_then_200(demo):
    assert get(demo.url + "/faults/flaky?key=a")[0] == 503
    s, _, body = get(demo.url + "/faults/flaky?key=a")
    assert s == 200 and "Со второго раза".encode() in body
    assert get(demo.url + "/faults/flaky?key=b")[0] == 503
    assert get(demo.url + "/faults/always500")[0] == 500
    assert get(demo.url + "/faults/always500")[0] == 500


def test_calendar_trap_links_forever(demo):
    _, _, body = get(demo.url + "/calendar/?month=2024-12")
    assert b'href="/calendar/?month=2025-01"' in body and b'href="/calendar/?month=2024-11"' in body
    _, _, body = get(demo.url + "/calendar/?month=2999-01")
    assert b'href="/calendar/?month=2999-02"' in body


def test_huge_and_gzip_bomb_and_slow(demo):
    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=10)
    conn.request("GET", "/faults/huge")
    r = conn.getresponse()
    assert r.status == 200 and int(r.headers["Content-Length"]) == 20 * 1024 * 1024
    n = 0
    while chunk := r.read(1 << 20):
        n += len(chunk)
    assert n == 20 * 1024 * 1024
    conn.request("GET", "/faults/gzipbomb")
    r = conn.getresponse()
    raw = r.read()
    assert r.headers["Content-Encoding"] == "gzip" and len(raw) < 1024 * 1024
    d = zlib.decompressobj(31)
    inflated = len(d.decompress(raw, 250 * 1024 * 1024))
    assert inflated > 200 * 1024 * 1024
    conn.close()
    t = time.monotonic()
    assert get(demo.url + "/faults/slow?seconds=1")[0] == 200
    assert time.monotonic() - t >= 1.0
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(demo.url + "/faults/slow", timeout=1).read()


def test_unknown_paths_are_404(demo_ro):
    assert get(demo_ro.url + "/xf/threads/nope.999999/")[0] == 404
    assert get(demo_ro.url + "/nosuchsite/")[0] == 404
    assert get(demo_ro.url + "/xf/forums/x.2/page-99")[0] == 404


def test_keep_alive_connections_from_4_threads_are_all_answered(demo_ro):
    """Cached pages on keep-alive connections from 4 client threads, as the crawler fetches them (the serving rate
    is measured in benchmarks/demo_web.py)."""
    import concurrent.futures

    site = corpus.load().sites["xf"]
    paths = [ENTRY["xenforo"].format(key="xf"), deep_path(site)]
    for p in paths:
        get(demo_ro.url + p)
    demo_ro.reset_hits()

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", demo_ro.port, timeout=10)
        statuses = []
        for i in range(25):
            conn.request("GET", paths[i % 2])
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
        conn.close()
        return statuses

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        statuses = [s for got in ex.map(worker, range(4)) for s in got]
    assert statuses == [200] * 100
    assert sum(demo_ro.hits.values()) == 100


def test_add_thread_appears_on_its_board_and_new_replies_on_news_and_telegram(demo, demo_dir):
    tid = corpus.add_thread(
        demo_dir,
        "phpbb",
        4,
        "Посылкин вернул деньги за доставку",
        "Марина_К",
        "Пришёл возврат за задержку, 350 р.",
        labels="posylkin + other",
    )
    c = corpus.load(demo_dir)
    assert tid == max(t.id for t in c.sites["phpbb"].threads())
    _, _, board = get(demo.url + "/phpbb/viewforum.php?f=4")
    assert f'href="/phpbb/viewtopic.php?t={tid}"'.encode() in board  # newest activity sorts first
    _, _, topic = get(demo.url + f"/phpbb/viewtopic.php?t={tid}")
    assert f'id="p{tid * 1000 + 1}"'.encode() in topic

    news = c.sites["news"].threads()[0]
    cid = corpus.add_post(demo_dir, "news", news.id, "Читатель", "А мне до сих пор не пришло.", reply_to=1)
    _, _, page = get(demo.url + f"/news/{news.slug}.html")
    assert f'data-comment-id="{cid}" data-parent-id="{news.posts[0].id}"'.encode() in page

    ch = c.sites["tg"].boards[0]
    mid = corpus.add_post(demo_dir, "tg", ch.threads[0].id, ch.title, "Новая жалоба", views=1234)
    assert mid == str(len(ch.threads[0].posts) + 1)
    _, _, page = get(demo.url + f"/tg/s/{ch.slug}")
    assert f'data-post="{ch.slug}/{mid}"'.encode() in page and b"1.2K" in page


def test_edit_post_changes_the_text_in_place(demo, demo_dir):
    site = corpus.load(demo_dir).sites["vb"]
    t = site.threads()[0]
    p = t.posts[0]
    url = demo.url + renderer("vbulletin").post_url(site, t, p).split("#")[0]
    _, h1, _ = get(url)
    corpus.edit_post(demo_dir, "vb", p.id, "Исправлено: посылку нашли, спасибо Посылкину!", labels="posylkin + praise")
    s2, h2, body = get(url)
    text = body.decode("cp1251")
    assert s2 == 200 and h2["ETag"] != h1["ETag"]
    assert f'id="post_{p.id}"' in text and "посылку нашли, спасибо Посылкину!" in text
    assert p.text.split("\n")[0][:30] not in text
    edited = corpus.load(demo_dir).sites["vb"].threads()[0].posts[0]
    assert edited.id == p.id and edited.labels[0].sentiment == "positive"
    with pytest.raises(corpus.CorpusError, match="unknown post"):
        corpus.edit_post(demo_dir, "vb", 999999999, "x")


def test_a_broken_corpus_file_is_a_clear_error_naming_the_place(demo_dir):
    from demo.web.server import DemoWebServer

    f = demo_dir / "sites" / "xf.yaml"
    good = f.read_text(encoding="utf-8")
    f.write_text(good.replace("l: mobiline - complaint no_signal", "l: mobiline angry complaint", 1), encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match=r"xf\.yaml: boards\[0\]\.threads\[0\]\.posts\[0\]: .*sentiment"):
        DemoWebServer(demo_dir)
    f.write_text(good.replace("            q: 3\n", "            q: 30\n", 1), encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match="must point to an earlier post"):
        corpus.load(demo_dir)
    f.write_text("engine: [unclosed", encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match="xf.yaml: not valid YAML"):
        corpus.load(demo_dir)


@pytest.mark.parametrize(
    "name", ["koi8r.html", "cp1251-meta-only.html", "cp1251-undeclared.html", "koi8r-undeclared.html"]
)
def test_legacy_encoding_pages(demo_ro, name):
    from demo.web.render_misc import ENCODING_GOLDEN, ENCODING_PAGES

    enc, header, meta = ENCODING_PAGES[name]
    status, headers, body = get(demo_ro.url + "/enc/" + name)
    assert status == 200
    assert headers["Content-Type"] == ("text/html" + (f"; charset={header}" if header else ""))
    assert (f"charset={meta}".encode() in body) == bool(meta)
    assert ENCODING_GOLDEN in body.decode(enc)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # really legacy bytes, not UTF-8 in disguise
