"""Brand matching against a hand-labelled set of Russian and English sentences."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.brands import And, BrandMatcher, Near, Not, Or, QueryError, Term, parse_query
from pipeline.config import BrandConfig

DATA = Path(__file__).resolve().parent / "data"


def _labelled():
    with open(DATA / "brand_matching.csv", encoding="utf-8", newline="") as fh:
        return [(r["text"], set(filter(None, r["brands"].split(";"))), r["source"] or None) for r in csv.DictReader(fh)]


def test_labelled_set_precision_recall(matcher):
    rows = _labelled()
    assert len(rows) >= 300
    tp = fp = fn = 0
    errors = []
    for text, expected, source in rows:
        got = {m.brand_id for m in matcher.match(text, source)}
        tp += len(got & expected)
        fp += len(got - expected)
        fn += len(expected - got)
        if got != expected:
            errors.append(f"{sorted(expected)} != {sorted(got)}: {text}")
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(
        f"\nbrand matching on {len(rows)} sentences: precision={precision:.3f} recall={recall:.3f} "
        f"(tp={tp} fp={fp} fn={fn})"
    )
    for e in errors:
        print("  miss:", e)
    assert precision >= 0.95 and recall >= 0.95
    # negatives are a real part of the set, not an afterthought
    assert sum(1 for _, e, _ in rows if not e) >= 100


def test_spans_point_at_the_written_form(matcher):
    text = "Вчера заказал на Озоне, а доставил Посылкин Экспресс."
    found = {m.brand_id: m for m in matcher.match(text)}
    assert text[found["ozon"].start : found["ozon"].end] == "Озоне" == found["ozon"].matched
    assert found["posylkin"].matched == "Посылкин Экспресс"


def test_inflections_and_transliterations(matcher):
    for text, brand in [
        ("Озона", "ozon"),
        ("озоновский", "ozon"),
        ("Ozon", "ozon"),
        ("Боксберри доставка", "boxberry"),
        ("Boxberry parcel", "boxberry"),
        ("Posylkin", "posylkin"),
        ("Посылкиным", "posylkin"),
        ("ШопОку", "shopok"),
        ("Мобилайна", "mobiline"),
    ]:
        assert brand in {m.brand_id for m in matcher.match(text)}, text


def test_excluded_source_and_exclusion_overlap_only(matcher):
    text = "Озон напоминает о сроках хранения."
    assert [m.brand_id for m in matcher.match(text, "ozon-official")] == []
    assert [m.brand_id for m in matcher.match(text, "forum")] == ["ozon"]
    # the namesake exclusion cancels the overlapping match, not the real mention later
    m = matcher.match("Андрей Посылкин пишет, что Посылкин теряет посылки")
    assert [(x.brand_id, x.matched) for x in m] == [("posylkin", "Посылкин")] and m[0].start > 20


def test_query_parser_ast():
    q = parse_query('(a OR "b c") AND NOT d e NEAR/2 f')
    assert q == And(
        (
            Or((Term(("a",)), Term(("b", "c")))),
            Not(Term(("d",))),
            Near(Term(("e",)), Term(("f",)), 2),
        )
    )
    assert parse_query("достав*") == Term(("достав",), prefix=True)


@pytest.mark.parametrize(
    "bad", ["", "a AND", "(a OR b", "a OR )", '"unterminated', "NEAR/2 b", "a NEAR b", "a NEAR/2 (b AND c)", '""']
)
def test_bad_query_has_a_clear_error(bad):
    with pytest.raises(QueryError, match="query"):
        parse_query(bad)


def test_bad_query_in_brand_config_fails_at_build():
    with pytest.raises(QueryError):
        BrandMatcher([BrandConfig(id="x", name="X", aliases=["Икс"], query="(a OR")])


def test_query_semantics(all_brands):
    m = BrandMatcher([BrandConfig(id="b", name="B", query='Мобилайн NEAR/2 роуминг AND NOT "тестовая запись"')])
    assert [x.brand_id for x in m.match("В роуминге Мобилайн работает плохо")] == ["b"]
    assert m.match("Мобилайн прислал счёт, а вот про роуминг ничего не сказали") == []
    assert m.match("В роуминге Мобилайн работает плохо, тестовая запись") == []


def test_demo_web_corpus():
    """Every demo post whose text names a labelled brand is found; nothing unlabelled, no homonym trap, is."""
    from demo.web import corpus as demo
    from demo.web.answers import AliasMatcher
    from pipeline.config import load_brands
    from pipeline.normalize import normalize_text

    root = Path(__file__).resolve().parents[2]
    m = BrandMatcher(load_brands(root / "data" / "brands.yaml"))
    named_by = AliasMatcher(root / "data" / "brands.yaml")  # decides which labels name the brand in the text
    tp = fp = fn = traps = trapped = 0
    for _site, _thread, p in demo.load().all_posts():
        labelled = {lab.brand for lab in p.labels if lab.brand}
        got = {x.brand_id for x in m.match(normalize_text(p.text))}
        must = labelled & named_by.find(p.text)
        tp += len(got & labelled)
        fp += len(got - labelled)
        fn += len(must - got)
        traps += len(p.hard_negative)
        trapped += len(set(p.hard_negative) & got)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(
        f"\ndemo web: precision={precision:.3f} recall={recall:.3f} (tp={tp} fp={fp} fn={fn}), "
        f"homonym traps {trapped}/{traps}"
    )
    assert tp > 300 and precision >= 0.97 and recall >= 0.97 and trapped == 0
