"""Keywords are lemmas of content words, stop words and brand names removed; c-TF-IDF favours what is distinctive."""

from __future__ import annotations

from models.keywords import STOP_WORDS, ctfidf_keywords, label_from_keywords, lemmas, stop_lemmas


def test_lemmas_drop_stop_words_and_normalise():
    out = lemmas(
        "Здравствуйте! Посылки потерялись, и курьеры не отвечают на звонки уже три недели, пожалуйста помогите"
    )
    assert "посылка" in out and "курьер" in out and "звонок" in out and "потеряться" in out
    assert not set(out) & STOP_WORDS
    assert "здравствуйте" not in out and "пожалуйста" not in out and "три" not in out
    assert all(w == w.lower() for w in out)


def test_brand_names_are_extra_stop_words():
    stop = stop_lemmas(["Посылкин", "Posylkin"])
    assert "посылкин" not in lemmas("Посылкину и Посылкина опять ругают за опоздание", stop)
    assert "опоздание" in lemmas("Посылкину и Посылкина опять ругают за опоздание", stop)


def test_ctfidf_prefers_distinctive_terms():
    docs = [
        "Не горит фонарь во дворе, освещение не работает",
        "Уличное освещение не работает, фонари не горят",
        "Фонарь у подъезда не горит, нет освещения во дворе",
        "Яма на дороге во дворе, асфальт разбит",
        "Глубокая яма на дороге, асфальт провалился",
        "Огромные ямы на дороге у школы, асфальт разрушен",
        "Во дворе кто-то поставил забор",
    ]
    labels = [0, 0, 0, 1, 1, 1, -1]
    kw = ctfidf_keywords([lemmas(d) for d in docs], labels, top_n=3)
    assert set(kw) == {0, 1}
    assert {k for k, _ in kw[0]} <= {"фонарь", "освещение", "гореть", "работать"}
    assert {k for k, _ in kw[1]} <= {"яма", "дорога", "асфальт"}
    assert "двор" not in {k for k, _ in kw[0]}  # shared by both themes, so not distinctive
    assert label_from_keywords(kw[1]).count(" / ") == 2


def test_names_and_places_are_not_keywords():
    out = lemmas("Не работает освещение на улице Кулакова возле дома Иванова в Курске")
    assert "освещение" in out and "улица" in out
    assert not {"кулаков", "кулаковый", "кулакова", "иванов", "курск"} & set(out)
