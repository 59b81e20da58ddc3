"""Legal/refund/threat terms match by lemma and stem, not by substring."""

import pytest

from pipeline.threats import compile_terms, match_terms

TERMS = compile_terms()


def phrases(text):
    return [m.phrase for m in match_terms(text, TERMS)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Подам в суд на Посылкин", "суд"),
        ("дойду до суда, так и знайте", "суд"),  # "суда" parses as суд | судно
        ("написала жалобу в Роспотребнадзор", "роспотребнадзор*"),
        ("пожалуюсь в Роспотребнадзора отдел", "роспотребнадзор*"),
        ("обращусь в прокуратуру", "прокуратура"),
        ("верните мне мои деньги!", "вернуть деньга"),  # gap of two words inside the phrase
        ("оформила чарджбэк через банк", "чарджбэк*"),
        ("I will file a chargeback", "chargeback*"),
        ("going to sue them", "sue"),
        ("my lawyers are on it", "lawyer*"),
        ("отправил досудебную претензию", "досудебный"),
        ("это мошенники", "мошенник"),
    ],
)
def test_term_found(text, expected):
    assert expected in phrases(text)


@pytest.mark.parametrize(
    "text",
    [
        "Посудите сами, доставка за два дня",  # посудить, not суд
        "Судно пришло в порт вовремя",  # судно only
        "вернули посылку через неделю, а где деньги за доставку",  # вернуть … деньга too far apart
    ],
)
def test_no_false_match(text):
    assert phrases(text) == []


def test_strongest_first_and_found_words_kept():
    ms = match_terms("Верните деньги или иду в суд и в СМИ", TERMS)
    assert ms[0].weight == max(m.weight for m in ms) == 1.0
    assert {m.category for m in ms} == {"legal", "refund", "public"}
    found = {m.phrase: m.found for m in ms}
    assert found["вернуть деньга"] == "Верните деньги"


def test_extra_terms_add_and_remove():
    terms = compile_terms({"коллективный иск": 1.0, "возврат": 0})
    assert "возврат" not in [m.phrase for m in match_terms("оформил возврат", terms)]
    assert "коллективный иск" in [m.phrase for m in match_terms("готовим коллективный иск", terms)]
