"""Sentiment rows from sets labelled for intent: restaurant-review sentences and the intent seed set."""

from __future__ import annotations

import pandas as pd


def _asp(text, term, sentiment):
    at = text.index(term)
    return {"term": term, "from": str(at), "to": str(at + len(term)), "sentiment": sentiment, "mark": "Rel"}


def _review(rid: str) -> dict:
    text = "Официант нагрубил и принёс холодный суп. Зато десерт был прекрасен! Зашли туда в пятницу вечером."
    text += " Салат свежий, но счёт принесли чужой."
    return {
        "id": rid,
        "text": text,
        "aspects": [
            _asp(text, "Официант", "negative"),
            _asp(text, "десерт", "positive"),
            _asp(text, "Салат", "positive"),
            _asp(text, "счёт", "negative"),
        ],
    }


def test_restaurant_sentences_become_sentiment_and_mixed_ones_are_left_out():
    from models.intent_sources import split_of
    from models.sentiment_sources import held_out_review, restaurant_sentiment_rows

    rid = next(str(i) for i in range(100) if not held_out_review(str(i)))
    df = restaurant_sentiment_rows([_review(rid)])
    assert df.columns.tolist() == ["text", "label", "source", "split"]
    assert df["label"].tolist() == ["negative", "positive", "neutral"]  # the mixed last sentence is dropped
    assert df["text"].tolist()[1] == "Зато десерт был прекрасен!"
    assert set(df["source"]) == {"restaurants"} and set(df["split"]) == {split_of(f"restaurant:{rid}")}


def test_the_half_kept_for_long_reviews_gives_no_sentences():
    """Whole reviews of that half measure long-text sentiment (tests/models/test_windows.py): none of their
    sentences may be trained on."""
    from models.sentiment_sources import held_out_review, restaurant_sentiment_rows

    ids = [str(i) for i in range(40)]
    kept = [i for i in ids if held_out_review(i)]
    assert 10 < len(kept) < 30  # about half
    df = restaurant_sentiment_rows([_review(i) for i in ids])
    assert len(df) == 3 * (len(ids) - len(kept))


def test_seed_rows_map_praise_and_problems_and_keep_their_test_split():
    from models.sentiment_sources import seed_sentiment_rows
    from models.train import sentiment_examples

    seed = pd.DataFrame(
        {
            "text": [
                "Вернули деньги за два дня, спасибо",
                "Курьер опоздал",
                "Приложение вылетает",
                "Где пункт выдачи?",
                "Пришла посылка",
                "Вылетает, но поддержка помогла быстро",
                "Карта не работает, что делать?",
            ],
            "label": [
                "praise",
                "complaint",
                "failure;complaint",
                "question",
                "other",
                "failure;praise",
                "question;failure",
            ],
            "source": ["review", "tweet", "chat", "forum", "comment", "forum", "chat"],
            "split": ["train", "test", "train", "train", "train", "train", "test"],
        }
    )
    df = seed_sentiment_rows(seed)
    assert df["label"].tolist() == ["positive", "negative", "negative", "neutral", "negative"]
    assert df["split"].tolist() == ["train", "test", "train", "train", "test"]
    assert set(df["source"]) == {"intent_seed"}
    ex = sentiment_examples(df, 400)
    assert [e.fixed for e in ex] == ["train", "test", "train", "train", "test"]
