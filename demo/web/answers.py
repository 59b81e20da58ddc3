"""The demo's labelled answer file, generated from the corpus labels: ``python -m demo.web.answers``.

One row per (post, brand), plus one row (brand_id '') for each post that mentions no brand. Also a simple
alias matcher used to check the labels: every brand alias found in a post's text must have a row.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections import Counter
from datetime import UTC
from pathlib import Path

import yaml

from demo.web import corpus as corpus_mod
from demo.web.corpus import Corpus
from pipeline.bundled import bundled

COLUMNS = [
    "site",
    "post_id",
    "url_path",
    "brand_id",
    "sentiment",
    "intent",
    "topic",
    "must_escalate",
    "advocate",
    "mention",
]
# mention: 'text' = the post's own text names the brand (a matcher can find it); 'thread' = a reply that talks
# about the brand named in the thread title or earlier posts without naming it itself; '' for no-brand rows.


def _post_url(site, t, post) -> str:
    from demo.web.server import renderer

    return renderer(site.engine).post_url(site, t, post)


def rows(c: Corpus, brands_file: Path | None = None) -> list[dict]:
    from demo.web.render_news import article_url

    m = AliasMatcher(brands_file or bundled("brands.yaml"))
    out = []
    for key, site in c.sites.items():
        for t in site.threads():
            if t.body is not None:
                named = m.find(t.title + "\n" + t.body)
                for lab in t.article_labels:
                    out.append(_row(key, f"article-{t.id}", article_url(t), lab, False, named))
            # Telegram message numbers are per channel: the id is the markup's data-post "channel/N"
            prefix = f"{site.board_of(t).slug}/" if site.engine == "telegram" else ""
            for p in t.posts:
                url = _post_url(site, t, p)
                adv = p.author in c.advocates
                named = m.find(p.text)
                for lab in p.labels:
                    out.append(_row(key, prefix + str(p.id), url, lab, adv, named))
    social = c.content_dir / "social" if c.content_dir is not None else None
    if social is not None and social.is_dir():
        from demo.standins import label_rows

        out += label_rows(social)
    return out


def _row(site: str, post_id: str, url: str, lab, advocate: bool, named: set[str]) -> dict:
    mention = "" if not lab.brand else ("text" if lab.brand in named else "thread")
    return {
        "site": site,
        "post_id": post_id,
        "url_path": url,
        "brand_id": lab.brand,
        "sentiment": lab.sentiment,
        "intent": lab.intent,
        "topic": lab.topic,
        "must_escalate": int(lab.escalate),
        "advocate": int(advocate),
        "mention": mention,
    }


def to_csv(rs: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rs)
    return buf.getvalue()


def write(content_dir: Path = corpus_mod.DEFAULT_CONTENT_DIR) -> Path:
    path = Path(content_dir) / "answers.csv"
    path.write_text(to_csv(rows(corpus_mod.load(content_dir))), encoding="utf-8")
    return path


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --- a deliberately simple alias matcher (stem + suffix, context words, exclusions) --------------------------


def _word_re(word: str) -> str:
    w = re.escape(word)
    if re.fullmatch(r"[А-Яа-яЁё]{4,}", word):
        stem = word[:-1] if word[-1].lower() in "аяоеьйы" else word
        return re.escape(stem) + r"[а-яё]{0,3}"
    return w


def _phrase_re(phrase: str) -> re.Pattern:
    words = phrase.split()
    body = r"\s+".join(_word_re(w) for w in words)
    return re.compile(r"(?<![\w.])" + body + r"(?![\w])", re.IGNORECASE)


class AliasMatcher:
    def __init__(self, brands_file: Path):
        data = yaml.safe_load(Path(brands_file).read_text(encoding="utf-8"))["brands"]
        self.brands = []
        for b in data:
            ambiguous = {a.lower() for a in b.get("ambiguous_aliases", [])}
            self.brands.append(
                {
                    "id": b["id"],
                    # an alias listed as ambiguous too counts only with a context word
                    "aliases": [_phrase_re(a) for a in b.get("aliases", []) if a.lower() not in ambiguous],
                    "ambiguous": [_phrase_re(a) for a in b.get("ambiguous_aliases", [])],
                    # context words in any inflection ("в приложении" counts for "приложение")
                    "context": [
                        re.compile(r"(?<!\w)" + _word_re(w) + r"(?!\w)", re.IGNORECASE)
                        for w in b.get("require_context", [])
                    ],
                    "exclusions": [_phrase_re(e) for e in b.get("exclusions", [])],
                }
            )

    def find(self, text: str) -> set[str]:
        found = set()
        for b in self.brands:
            t = text
            for ex in b["exclusions"]:
                t = ex.sub(" ", t)
            if any(r.search(t) for r in b["aliases"]):
                found.add(b["id"])
            elif b["ambiguous"] and any(r.search(t) for r in b["ambiguous"]) and any(c.search(t) for c in b["context"]):
                found.add(b["id"])
        return found


def check(c: Corpus, brands_file: Path) -> list[str]:
    """Problems: a post whose text names a brand with no label for it (unless marked as a homonym trap)."""
    m = AliasMatcher(brands_file)
    known = {b["id"] for b in m.brands}
    problems = []
    from datetime import datetime

    ref = datetime(2024, 5, 20, 23, 59, tzinfo=UTC)  # late in the day: no clamping of today's posts
    for site in c.sites.values():
        for t in site.threads():
            ts = [p.posted_at(ref) for p in t.posts]
            bad = [t.posts[i].n for i in range(1, len(ts)) if ts[i] < ts[i - 1]]
            if bad:
                problems.append(f"{site.key} thread {t.id}: posts {bad} are dated before the post above them")
    for site, t, p in c.all_posts():
        for lab in p.labels:
            if lab.brand and lab.brand not in known:
                problems.append(f"{site.key} post {p.id}: unknown brand {lab.brand!r}")
            if lab.topic and not re.fullmatch(r"[a-z][a-z_]*", lab.topic):
                problems.append(f"{site.key} post {p.id}: topic {lab.topic!r} is not a slug")
        labelled = {lab.brand for lab in p.labels if lab.brand}
        missing = m.find(p.text) - labelled - set(p.hard_negative)
        if missing:
            problems.append(f"{site.key} thread {t.id} post {p.n} ({p.id}): names {sorted(missing)} but has no label")
        extra = labelled - m.find(p.text)
        context = m.find(t.title + "\n" + "\n".join(x.text for x in t.posts[: p.n - 1]))
        if extra - context:
            problems.append(
                f"{site.key} thread {t.id} post {p.n} ({p.id}): labelled {sorted(extra - context)} but "
                f"neither the post nor its thread names it"
            )
        if any(not lab.brand for lab in p.labels) and labelled:
            problems.append(f"{site.key} post {p.id}: mixes 'none' with brand labels")
    return problems


def summary(rs: list[dict]) -> dict[str, Counter]:
    posts = Counter((r["site"], r["post_id"]) for r in rs)
    return {
        "rows": Counter({"rows": len(rs), "posts": len(posts)}),
        "mention": Counter(r["mention"] or "(none)" for r in rs),
        "brand": Counter(r["brand_id"] or "(none)" for r in rs),
        "sentiment": Counter(r["sentiment"] for r in rs if r["brand_id"]),
        "intent": Counter(r["intent"] for r in rs if r["brand_id"]),
        "topic": Counter(r["topic"] for r in rs if r["topic"]),
        "site": Counter(r["site"] for r in rs),
        "must_escalate": Counter(r["brand_id"] for r in rs if int(r["must_escalate"])),
        "advocate": Counter(r["brand_id"] for r in rs if int(r["advocate"])),
    }


def main(argv: list[str] | None = None) -> int:
    content = Path(argv[0]) if argv else corpus_mod.DEFAULT_CONTENT_DIR
    c = corpus_mod.load(content)
    probs = check(c, bundled("brands.yaml"))
    for p in probs:
        print("warning:", p, file=sys.stderr)
    path = write(content)
    for k, v in summary(read(path)).items():
        print(f"{k}: " + ", ".join(f"{a}={n}" for a, n in sorted(v.items(), key=lambda x: -x[1])))
    print(f"wrote {path}")
    return 1 if probs else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
