"""Config-driven review pages (otzovik/irecommend-style sites, marketplace product reviews) → PostItems.

Two shapes, both declared per source in sources.yaml:

* HTML, by `selectors` (CSS; XPath when the selector starts with "/" or "("; `::text` / `::attr(x)` as in Scrapy):
  review (each review's container, required), text (required), id, author, author_url, date, rating, pros, cons,
  answer (the seller's / brand's official answer inside the review), answer_author, answer_date, likes,
  next_page, product_title. Ratings are read as a number from the selected text ("4", "4.5 из 5", "★★★★☆").
* JSON, by `options.json`: {"items": "feedbacks", "fields": {"id": "id", "text": "text", "rating":
  "productValuation", "author": "user.name", "date": "createdDate", "answer": "answer.text", ...},
  "next_page": "nextPage"} with dotted paths.

The official answer becomes its own PostItem (is_official_answer=True, reply_to the review), so KPIs can count
it as a response and analysts see it in the thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from parsel import Selector

from crawlers.items import PostItem
from pipeline.store import stable_id

_NUM = re.compile(r"(\d+(?:[.,]\d+)?)")


class ReviewConfigError(ValueError):
    pass


def parse_rating(value: Any) -> float | None:
    """'4', '4,5 из 5', 'Оценка: 5', '★★★★☆', 80 (%) → stars on a 0–5 scale."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        v = float(value)
    else:
        s = str(value).strip()
        if not s:
            return None
        stars = s.count("★")
        if stars:
            return float(stars)
        m = _NUM.search(s)
        if not m:
            return None
        v = float(m.group(1).replace(",", "."))
    if v > 10:  # percent
        v = v / 20.0
    elif v > 5:  # ten-point scale
        v = v / 2.0
    return round(v, 2)


def _select(sel: Selector, query: str | None) -> list[str]:
    if not query:
        return []
    res = sel.xpath(query) if query.startswith(("/", "(", "./")) else sel.css(query)
    return [t.strip() for t in res.getall() if t and t.strip()]


def _text_of(sel: Selector, query: str | None) -> str | None:
    """Selected node(s) as plain text: `::text`/`::attr` queries as is, element queries flattened."""
    if not query:
        return None
    if "::text" in query or "::attr" in query or query.startswith(("/", "(", "./")):
        parts = _select(sel, query)
    else:
        parts = [" ".join(t.strip() for t in el.css("*::text").getall() if t.strip()) for el in sel.css(query)]
    text = "\n".join(p for p in parts if p)
    return text or None


def parse_reviews_html(
    html: str,
    url: str,
    source: str,
    selectors: dict[str, str],
    *,
    product_id: str | None = None,
    seller_id: str | None = None,
    parse_date: Callable[[str], str | None] | None = None,
) -> tuple[list[PostItem], str | None]:
    for required in ("review", "text"):
        if required not in selectors:
            raise ReviewConfigError(f"source {source}: selectors.{required} is required for review pages")
    page = Selector(text=html)
    title = _text_of(page, selectors.get("product_title"))
    items: list[PostItem] = []
    for i, rev in enumerate(
        page.css(selectors["review"]) if not selectors["review"].startswith("/") else page.xpath(selectors["review"])
    ):
        text = _text_of(rev, selectors["text"]) or ""
        pros, cons = _text_of(rev, selectors.get("pros")), _text_of(rev, selectors.get("cons"))
        body = "\n".join(
            p for p in (text, f"Достоинства: {pros}" if pros else None, f"Недостатки: {cons}" if cons else None) if p
        )
        if not body.strip():
            continue
        rid = _text_of(rev, selectors.get("id")) or stable_id(url, i, body[:200])
        date_raw = _text_of(rev, selectors.get("date"))
        rating = parse_rating(_text_of(rev, selectors.get("rating")))
        likes_raw = _text_of(rev, selectors.get("likes"))
        likes = int(m.group(1)) if likes_raw and (m := re.search(r"(\d+)", likes_raw)) else None
        extra = {
            k: v for k, v in (("product_id", product_id), ("seller_id", seller_id), ("pros", pros), ("cons", cons)) if v
        }
        items.append(
            PostItem(
                source=source,
                kind="reviews",
                post_id=str(rid),
                url=f"{url.split('#')[0]}#review-{rid}",
                text=body,
                thread_url=url.split("?")[0],
                thread_id=product_id or url.split("?")[0],
                thread_title=title,
                author=_text_of(rev, selectors.get("author")),
                author_url=_text_of(rev, selectors.get("author_url")),
                posted_at=parse_date(date_raw) if (parse_date and date_raw) else None,
                posted_at_raw=date_raw,
                rating=rating,
                likes=likes,
                page_url=url,
                extra=extra,
            )
        )
        answer = _text_of(rev, selectors.get("answer"))
        if answer:
            a_date = _text_of(rev, selectors.get("answer_date"))
            items.append(
                PostItem(
                    source=source,
                    kind="reviews",
                    post_id=f"{rid}-answer",
                    url=f"{url.split('#')[0]}#review-{rid}-answer",
                    text=answer,
                    thread_url=url.split("?")[0],
                    thread_id=product_id or url.split("?")[0],
                    thread_title=title,
                    author=_text_of(rev, selectors.get("answer_author")) or "official answer",
                    posted_at=parse_date(a_date) if (parse_date and a_date) else None,
                    posted_at_raw=a_date,
                    reply_to=str(rid),
                    is_official_answer=True,
                    page_url=url,
                    extra=dict(extra),
                )
            )
    nxt = _select(page, selectors.get("next_page"))
    return items, (nxt[0] if nxt else None)


def dig(obj: Any, path: str | None) -> Any:
    """Dotted path lookup: 'answer.text', 'photos.0.url'; missing → None."""
    if not path:
        return None
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def parse_reviews_json(
    payload: Any,
    url: str,
    source: str,
    spec: dict[str, Any],
    *,
    product_id: str | None = None,
    seller_id: str | None = None,
    parse_date: Callable[[str], str | None] | None = None,
) -> tuple[list[PostItem], Any]:
    fields = spec.get("fields") or {}
    if "text" not in fields or "items" not in spec:
        raise ReviewConfigError(f"source {source}: options.json needs `items` and `fields.text`")
    rows = dig(payload, spec["items"]) or []
    if not isinstance(rows, list):
        raise ReviewConfigError(f"source {source}: options.json.items {spec['items']!r} is not a list in the answer")
    thread = product_id or url.split("?")[0]
    items: list[PostItem] = []
    for i, row in enumerate(rows):
        get = lambda k, row=row: dig(row, fields.get(k))  # noqa: E731
        text = str(get("text") or "").strip()
        pros, cons = get("pros"), get("cons")
        body = "\n".join(
            p for p in (text, f"Достоинства: {pros}" if pros else None, f"Недостатки: {cons}" if cons else None) if p
        )
        if not body:
            continue
        rid = str(get("id") or stable_id(url, i, body[:200]))
        date_raw = get("date")
        extra = {k: v for k, v in (("product_id", product_id), ("seller_id", seller_id)) if v}
        items.append(
            PostItem(
                source=source,
                kind="reviews",
                post_id=rid,
                url=f"{url.split('?')[0]}#review-{rid}",
                text=body,
                thread_url=url.split("?")[0],
                thread_id=thread,
                author=get("author"),
                posted_at=parse_date(str(date_raw)) if (parse_date and date_raw) else None,
                posted_at_raw=str(date_raw) if date_raw else None,
                rating=parse_rating(get("rating")),
                likes=get("likes") if isinstance(get("likes"), int) else None,
                page_url=url,
                extra=extra,
            )
        )
        answer = get("answer")
        if answer:
            items.append(
                PostItem(
                    source=source,
                    kind="reviews",
                    post_id=f"{rid}-answer",
                    url=f"{url.split('?')[0]}#review-{rid}-answer",
                    text=str(answer),
                    thread_url=url.split("?")[0],
                    thread_id=thread,
                    author="official answer",
                    posted_at=parse_date(str(get("answer_date"))) if (parse_date and get("answer_date")) else None,
                    reply_to=rid,
                    is_official_answer=True,
                    page_url=url,
                    extra=dict(extra),
                )
            )
    return items, dig(payload, spec.get("next_page"))
