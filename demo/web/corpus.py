"""The demo web's content: structured corpus files, loaded and validated; posts added at run time.

Layout of a content dir (default ``data/demo_web``)::

    meta.yaml            advocates and other corpus-wide facts
    sites/<site>.yaml    one file per site: boards -> threads -> posts (hand-written)
    added.jsonl          posts, threads and edits appended by add_post()/add_thread()/edit_post(); optional

Times are stored relative (``d`` days ago + ``t`` "HH:MM" Moscow time, or ``m`` minutes ago) and turned into
datetimes against a ``now`` at render time, so the demo is always recent.

Post ids are derived, never written by hand: post ``n`` (1-based, in thread order) of thread ``T`` has id
``T * 1000 + n`` on the forum engines and the news site, and from the 1000th post on ``10**9 + T * 10**6 + n``
(so a long thread's posts never take the next thread's ids); Telegram messages are numbered per channel
``1, 2, ...``. So appending a post never renumbers earlier ones.

Labels (``l``) per post: ``"<brand|none> <-|0|+> <intent> [topic] [!]"``, several joined by ``;``
(``!`` = must escalate). A post without ``l`` is labelled ``none 0 other``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from pipeline.bundled import bundled
from pipeline.labels import INTENTS

MSK = timezone(timedelta(hours=3))
DEFAULT_CONTENT_DIR = bundled("demo_web")

SENTIMENTS = {
    "-": "negative",
    "0": "neutral",
    "+": "positive",
    "negative": "negative",
    "neutral": "neutral",
    "positive": "positive",
}
# the page styles the demo web serves, not the parsers' engine list (crawlers.parsers.ENGINES): `news` is its
# comment pages, and it imitates only some of the engines the crawler reads
ENGINES = ("vbulletin", "phpbb", "xenforo", "ipb", "discourse", "news", "telegram")


class CorpusError(ValueError):
    """A corpus file is malformed; the message names the file and the place."""


@dataclass
class Label:
    brand: str  # '' = no brand
    sentiment: str
    intent: str
    topic: str = ""
    escalate: bool = False


@dataclass
class Post:
    id: int
    n: int  # 1-based position in the thread
    author: str
    text: str
    days_ago: int = 0
    time: str | None = None  # "HH:MM" Moscow time
    minutes_ago: int | None = None  # instead of days_ago/time (added posts)
    quote: int | None = None  # n of a quoted earlier post in the same thread
    reply_to: int | None = None  # n of the post answered (nested comments, Telegram replies)
    likes: int = 0
    views: int | None = None  # Telegram
    signature: str | None = None  # overrides the author's signature
    labels: list[Label] = field(default_factory=list)
    hard_negative: list[str] = field(default_factory=list)  # brand ids a naive matcher would wrongly find
    lang: str = "ru"
    official: bool = False  # the brand's own answer
    comment_on: int | None = None  # Telegram discussion group: id of the channel post commented on

    def posted_at(self, now: datetime) -> datetime:
        if self.minutes_ago is not None:
            return now - timedelta(minutes=self.minutes_ago)
        local_now = now.astimezone(MSK)
        hh, mm = (int(x) for x in (self.time or "12:00").split(":"))
        return datetime.combine(local_now.date() - timedelta(days=self.days_ago), time(hh, mm), MSK)


@dataclass
class Thread:
    id: int
    title: str
    slug: str
    board_id: int
    posts: list[Post] = field(default_factory=list)
    views: int = 0
    body: str | None = None  # news: the article text (posts are its comments)
    lead: str | None = None
    byline: str | None = None
    article_labels: list[Label] = field(default_factory=list)
    lang: str = "ru"
    sticky: bool = False
    days_ago: int | None = None  # news: when the article was published
    time: str | None = None

    def times(self, now: datetime) -> list[datetime]:
        """Posted times in thread order, never in the future and never out of order."""
        out: list[datetime] = []
        for p in self.posts:
            out.append(p.posted_at(now))
        # Today's posts written with a later clock time than `now` are pulled back before now, keeping order.
        limit = now.astimezone(UTC) - timedelta(minutes=1)
        for i in range(len(out) - 1, -1, -1):
            if out[i] > limit:
                out[i] = limit
            limit = min(limit, out[i])
            if i and out[i - 1] > out[i]:
                out[i - 1] = out[i] - timedelta(minutes=3)
        return out

    def article_time(self, now: datetime) -> datetime:
        if self.days_ago is not None:
            at = Post(0, 0, "", "", days_ago=self.days_ago, time=self.time).posted_at(now)
            t = self.times(now)
            return min([at] + [x - timedelta(minutes=5) for x in t[:1]] + [now - timedelta(minutes=2)])
        t = self.times(now)
        first = t[0] if t else now - timedelta(hours=1)
        return first - timedelta(minutes=47)


@dataclass
class Board:
    id: int
    title: str
    slug: str
    description: str = ""
    threads: list[Thread] = field(default_factory=list)
    discussion_of: str | None = None  # Telegram: this board is the discussion group of that channel (slug)


@dataclass
class Author:
    name: str
    signature: str | None = None
    title: str | None = None
    joined: str | None = None
    posts: int | None = None
    user_id: int = 0


@dataclass
class Site:
    key: str
    engine: str
    title: str
    encoding: str = "utf-8"
    boards: list[Board] = field(default_factory=list)
    authors: dict[str, Author] = field(default_factory=dict)
    subscribers: int | None = None  # Telegram channel
    channel: str | None = None  # Telegram channel name

    def threads(self) -> list[Thread]:
        return [t for b in self.boards for t in b.threads]

    def thread(self, thread_id: int) -> Thread | None:
        for t in self.threads():
            if t.id == thread_id:
                return t
        return None

    def board(self, board_id: int) -> Board | None:
        return next((b for b in self.boards if b.id == board_id), None)

    def board_of(self, thread: Thread) -> Board:
        """The board `thread` is in: a thread is only ever made inside its board."""
        b = self.board(thread.board_id)
        if b is None:
            raise LookupError(f"{self.key}: thread {thread.id} is in no board")
        return b

    def author(self, name: str) -> Author:
        a = self.authors.get(name)
        if a is None:
            a = Author(name=name, user_id=_user_id(name))
            self.authors[name] = a
        return a


@dataclass
class Corpus:
    sites: dict[str, Site]
    advocates: dict[str, str]  # author name -> brand id
    stamp: tuple = ()
    content_dir: Path | None = None  # where it was loaded from (social stand-in labels live beside it)

    def all_posts(self):
        """(site, thread, post) for every post, in file order."""
        for s in self.sites.values():
            for t in s.threads():
                for p in t.posts:
                    yield s, t, p


def _user_id(name: str) -> int:
    import zlib

    return 100 + zlib.crc32(name.encode("utf-8")) % 90000


def slugify(title: str) -> str:
    tr = dict(
        zip(
            "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
            [
                "a",
                "b",
                "v",
                "g",
                "d",
                "e",
                "e",
                "zh",
                "z",
                "i",
                "y",
                "k",
                "l",
                "m",
                "n",
                "o",
                "p",
                "r",
                "s",
                "t",
                "u",
                "f",
                "h",
                "ts",
                "ch",
                "sh",
                "sch",
                "",
                "y",
                "",
                "e",
                "yu",
                "ya",
            ],
        )
    )
    s = "".join(tr.get(c, c) for c in title.lower())
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s[:60].strip("-") or "thread"


def parse_labels(spec: str | None, where: str) -> list[Label]:
    if spec is None:
        return [Label("", "neutral", "other")]
    out = []
    for part in str(spec).split(";"):
        toks = part.split()
        if len(toks) < 3:
            raise CorpusError(f"{where}: label {part!r} needs '<brand|none> <-|0|+> <intent> [topic] [!]'")
        brand, sent, intent, rest = toks[0], toks[1], toks[2], toks[3:]
        if sent not in SENTIMENTS:
            raise CorpusError(f"{where}: label {part!r}: sentiment must be -, 0 or +")
        if intent not in INTENTS:
            raise CorpusError(f"{where}: label {part!r}: intent must be one of {', '.join(INTENTS)}")
        esc = "!" in rest
        rest = [r for r in rest if r != "!"]
        if len(rest) > 1:
            raise CorpusError(f"{where}: label {part!r}: too many fields")
        out.append(Label("" if brand == "none" else brand, SENTIMENTS[sent], intent, rest[0] if rest else "", esc))
    return out


def thread_post_id(thread_id: int, n: int) -> int:
    """Post `n` (1-based) of forum or news thread `thread_id`; unique across threads up to a million posts each."""
    return thread_id * 1000 + n if n < 1000 else 1_000_000_000 + thread_id * 1_000_000 + n


def _post_from(d: dict, thread_id: int, n: int, engine: str, where: str) -> Post:
    if not isinstance(d, dict) or "text" not in d or "author" not in d:
        raise CorpusError(f"{where}: a post needs 'author' and 'text'")
    pid = n if engine == "telegram" else thread_post_id(thread_id, n)
    hn = d.get("hn") or []
    return Post(
        id=pid,
        n=n,
        author=str(d["author"]),
        text=str(d["text"]).strip("\n"),
        days_ago=int(d.get("d", 0)),
        time=d.get("t"),
        minutes_ago=d.get("m"),
        quote=d.get("q"),
        reply_to=d.get("r"),
        likes=int(d.get("likes", 0) or 0),
        views=d.get("views"),
        signature=d.get("sig"),
        labels=parse_labels(d.get("l"), where),
        hard_negative=[hn] if isinstance(hn, str) else list(hn),
        lang=d.get("lang", "ru"),
        official=bool(d.get("official", False)),
        comment_on=d.get("c"),
    )


def _site_from(key: str, raw: dict, path: Path) -> Site:
    if not isinstance(raw, dict) or raw.get("engine") not in ENGINES:
        raise CorpusError(f"{path}: 'engine' must be one of {', '.join(ENGINES)}")
    site = Site(
        key=key,
        engine=raw["engine"],
        title=raw.get("title", key),
        encoding=raw.get("encoding", "utf-8"),
        subscribers=raw.get("subscribers"),
        channel=raw.get("channel"),
    )
    for name, a in (raw.get("authors") or {}).items():
        a = a or {}
        site.authors[name] = Author(
            name=name,
            signature=a.get("sig"),
            title=a.get("title"),
            joined=a.get("joined"),
            posts=a.get("posts"),
            user_id=_user_id(name),
        )
    seen_threads: set[int] = set()
    for bi, b in enumerate(raw.get("boards") or []):
        bw = f"{path}: boards[{bi}]"
        try:
            board = Board(
                id=int(b["id"]),
                title=b["title"],
                slug=b.get("slug") or slugify(b["title"]),
                description=b.get("desc", ""),
                discussion_of=b.get("discussion_of"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CorpusError(f"{bw}: needs id and title ({e})") from None
        for ti, t in enumerate(b.get("threads") or []):
            tw = f"{bw}.threads[{ti}]"
            try:
                tid = int(t["id"])
                title = str(t["title"])
            except (KeyError, TypeError, ValueError):
                raise CorpusError(f"{tw}: needs id and title") from None
            if tid in seen_threads:
                raise CorpusError(f"{tw}: duplicate thread id {tid}")
            seen_threads.add(tid)
            th = Thread(
                id=tid,
                title=title,
                slug=t.get("slug") or slugify(title),
                board_id=board.id,
                views=int(t.get("views", 0) or 0),
                body=t.get("body"),
                lead=t.get("lead"),
                byline=t.get("byline"),
                lang=t.get("lang", "ru"),
                sticky=bool(t.get("sticky", False)),
                days_ago=t.get("d"),
                time=t.get("t"),
            )
            if th.body is not None:
                th.article_labels = parse_labels(t.get("l"), f"{tw} (article)")
            for pi, p in enumerate(t.get("posts") or []):
                pw = f"{tw}.posts[{pi}]"
                post = _post_from(p, tid, pi + 1, site.engine, pw)
                if "lang" not in p:
                    post.lang = th.lang
                th.posts.append(post)
            _check_refs(th, tw)
            board.threads.append(th)
        site.boards.append(board)
    return site


def _check_refs(th: Thread, where: str) -> None:
    for p in th.posts:
        for ref, name in ((p.quote, "q"), (p.reply_to, "r")):
            if ref is not None and not (1 <= int(ref) < p.n):
                raise CorpusError(f"{where}: post {p.n}: '{name}: {ref}' must point to an earlier post")


def _stamp(content_dir: Path) -> tuple:
    parts = []
    for p in sorted((content_dir / "sites").glob("*.yaml")) + [content_dir / "meta.yaml", content_dir / "added.jsonl"]:
        try:
            st = p.stat()
            parts.append((p.name, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            parts.append((p.name, 0, 0))
    return tuple(parts)


_cache: dict[Path, Corpus] = {}
_lock = threading.Lock()
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(content_dir: str | Path = DEFAULT_CONTENT_DIR) -> Corpus:
    """The corpus in content_dir; re-read only when a content file changed (cheap to call per request)."""
    content_dir = Path(content_dir).resolve()
    stamp = _stamp(content_dir)
    with _lock:
        c = _cache.get(content_dir)
        if c is not None and c.stamp == stamp:
            return c
        c = _load(content_dir)
        c.stamp = stamp
        _cache[content_dir] = c
        return c


def _load(content_dir: Path) -> Corpus:
    sites_dir = content_dir / "sites"
    if not sites_dir.is_dir():
        raise CorpusError(f"{sites_dir}: no such folder (expected one YAML file per site)")
    sites: dict[str, Site] = {}
    for path in sorted(sites_dir.glob("*.yaml")):
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError as e:
            raise CorpusError(f"{path}: not valid YAML: {e}") from None
        sites[path.stem] = _site_from(path.stem, raw, path)
    meta: dict[str, Any] = {}
    if (content_dir / "meta.yaml").exists():
        meta = yaml.load((content_dir / "meta.yaml").read_text(encoding="utf-8"), Loader=_Loader) or {}
    corpus = Corpus(sites=sites, advocates=dict(meta.get("advocates") or {}), content_dir=content_dir)
    _apply_added(corpus, content_dir / "added.jsonl")
    return corpus


def _apply_added(corpus: Corpus, path: Path) -> None:
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]  # a line still being written by add_post: picked up on the next load
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        site = corpus.sites.get(rec["site"])
        if site is None:
            raise CorpusError(f"{path}:{i}: unknown site {rec['site']!r}")
        if rec["kind"] == "thread":
            board = site.board(int(rec["board_id"]))
            if board is None:
                raise CorpusError(f"{path}:{i}: unknown board {rec['board_id']!r} on {rec['site']}")
            board.threads.append(
                Thread(id=int(rec["thread_id"]), title=rec["title"], slug=slugify(rec["title"]), board_id=board.id)
            )
            continue
        th = site.thread(int(rec["thread_id"]))
        if th is None:
            raise CorpusError(f"{path}:{i}: unknown thread {rec['thread_id']!r} on {rec['site']}")
        if rec["kind"] == "edit":
            post = next((p for p in th.posts if p.id == int(rec["post_id"])), None)
            if post is None:
                raise CorpusError(f"{path}:{i}: unknown post {rec['post_id']!r} in thread {th.id}")
            post.text = rec["text"]
            if rec.get("labels") is not None:
                post.labels = parse_labels(rec["labels"], f"{path}:{i}")
            continue
        n = len(th.posts) + 1
        if site.engine == "telegram":
            n_id = max((p.id for p in th.posts), default=0) + 1
        post = _post_from(rec["post"], th.id, n, site.engine, f"{path}:{i}")
        if site.engine == "telegram":
            post.id = n_id
        th.posts.append(post)


def _append(content_dir: str | Path, rec: dict) -> None:
    path = Path(content_dir) / "added.jsonl"
    with _lock:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


def add_post(
    content_dir: str | Path, site: str, thread_id: int, author: str, text: str, days_ago: int = 0, **kw: Any
) -> str:
    """Append a reply to a thread (or a Telegram message / news comment); returns its post id as the markup shows it.

    kw: time="HH:MM" (with days_ago), minutes_ago=N (default 0 when neither days_ago nor time is given),
    quote=n, reply_to=n, likes=N, views=N, comment_on=<channel post id> (Telegram discussion groups),
    labels="<brand> <-|0|+> <intent> [topic] [!]", lang.
    """
    corpus = load(content_dir)
    s = corpus.sites.get(site)
    if s is None:
        raise CorpusError(f"unknown site {site!r}; have {', '.join(sorted(corpus.sites))}")
    th = s.thread(int(thread_id))
    if th is None:
        raise CorpusError(f"{site}: unknown thread {thread_id!r}")
    post: dict[str, Any] = {"author": author, "text": text, "d": int(days_ago)}
    if kw.get("time"):
        post["t"] = kw["time"]
    elif days_ago == 0 or kw.get("minutes_ago") is not None:
        post["m"] = int(kw.get("minutes_ago") or 0)
    for k, short in (
        ("quote", "q"),
        ("reply_to", "r"),
        ("likes", "likes"),
        ("views", "views"),
        ("labels", "l"),
        ("lang", "lang"),
        ("comment_on", "c"),
    ):
        if kw.get(k) is not None:
            post[short] = kw[k]
    parse_labels(post.get("l"), "add_post")  # fail before writing anything
    for ref in (post.get("q"), post.get("r")):
        if ref is not None and not 1 <= int(ref) <= len(th.posts):
            raise CorpusError(f"{site}: thread {thread_id} has no post n={ref}")
    _append(content_dir, {"kind": "post", "site": site, "thread_id": th.id, "post": post})
    n = len(th.posts) + 1
    return (
        str(max((p.id for p in th.posts), default=0) + 1) if s.engine == "telegram" else str(thread_post_id(th.id, n))
    )


def add_posts(content_dir: str | Path, site: str, thread_id: int, posts: list[dict[str, Any]]) -> list[str]:
    """Append many posts to one thread in one write: long threads and channel histories (tests, benchmarks).

    Each post is written as in the site files (``author``, ``text``, ``d``/``t`` or ``m``, ``l`` …); add_post()
    loads the corpus once a post, which for thousands of posts is quadratic. Returns the posts' ids.
    """
    corpus = load(content_dir)
    s = corpus.sites.get(site)
    if s is None:
        raise CorpusError(f"unknown site {site!r}; have {', '.join(sorted(corpus.sites))}")
    th = s.thread(int(thread_id))
    if th is None:
        raise CorpusError(f"{site}: unknown thread {thread_id!r}")
    lines, ids = [], []
    next_id = max((p.id for p in th.posts), default=0) + 1
    for k, post in enumerate(posts):
        n = len(th.posts) + k + 1
        _post_from(post, th.id, n, s.engine, f"add_posts[{k}]")  # fail before writing anything
        ids.append(str(next_id + k) if s.engine == "telegram" else str(thread_post_id(th.id, n)))
        lines.append(json.dumps({"kind": "post", "site": site, "thread_id": th.id, "post": post}, ensure_ascii=False))
    if lines:
        with _lock, open(Path(content_dir) / "added.jsonl", "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
    return ids


def edit_post(content_dir: str | Path, site: str, post_id: int | str, text: str, labels: str | None = None) -> None:
    """Replace a post's text (an author editing it); the page shows the new text on the next request."""
    corpus = load(content_dir)
    s = corpus.sites.get(site)
    if s is None:
        raise CorpusError(f"unknown site {site!r}")
    if s.engine == "telegram" and "/" in str(post_id):  # "channel/N": message numbers are per channel
        ch, _, n = str(post_id).partition("/")
        b = next((b for b in s.boards if b.slug == ch), None)
        pid = int(n) if n.isdigit() else -1
        found = [t for t in (b.threads[:1] if b else []) if any(p.id == pid for p in t.posts)]
    else:
        pid = int(post_id) if str(post_id).isdigit() else -1
        found = [t for t in s.threads() if any(p.id == pid for p in t.posts)]
    if len(found) != 1:
        raise CorpusError(
            f"{site}: unknown post {post_id!r}"
            if not found
            else f"{site}: post {post_id!r} is ambiguous; use 'channel/N'"
        )
    th = found[0]
    if labels is not None:
        parse_labels(labels, "edit_post")
    _append(
        content_dir, {"kind": "edit", "site": site, "thread_id": th.id, "post_id": pid, "text": text, "labels": labels}
    )


def add_thread(content_dir: str | Path, site: str, board_id: int, title: str, author: str, text: str, **kw: Any) -> int:
    """Start a new thread on a board with a first post; returns the new thread id."""
    corpus = load(content_dir)
    s = corpus.sites.get(site)
    if s is None or s.board(int(board_id)) is None:
        raise CorpusError(f"unknown site/board {site!r}/{board_id!r}")
    tid = max((t.id for t in s.threads()), default=0) + 1
    _append(content_dir, {"kind": "thread", "site": site, "board_id": int(board_id), "thread_id": tid, "title": title})
    add_post(content_dir, site, tid, author, text, **kw)
    return tid
