"""Sentiment rows from sets labelled for intent: restaurant-review sentences and the intent seed set."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
# the demo brands: hand-labelled training rows never name them (the demo's answers measure the pipeline)
DEMO_BRANDS = re.compile(r"посылкин|posylkin|шопок|shopok|ласточк|lastochka|мобилайн|mobiline|зерно|zerno", re.I)


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


def test_the_hand_labelled_brand_sets_are_consistent():
    """data/training/brand_sentiment.csv: every target is in its text; the intent seed's texts keep the seed's
    split (its test rows stay unseen by both tasks); a text labelled for two brands has one split; no row names a
    demo brand except the seed's own texts (the demo's answers measure the pipeline)."""
    from models.train import intent_examples, read_training_csv, sentiment_examples

    path = ROOT / "data" / "training" / "brand_sentiment.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert df.columns.tolist() == ["text", "target", "label", "source", "split", "style"]
    assert set(df["label"]) == {"negative", "neutral", "positive"} and set(df["split"]) == {"train", "test"}
    assert all(t.lower() in x.lower() for x, t in zip(df["text"], df["target"], strict=True) if t)
    assert not df.duplicated(["text", "target"]).any()
    assert (df.groupby("text")["split"].nunique() == 1).all()

    seed = pd.read_csv(ROOT / "data" / "training" / "intent_seed.csv", dtype=str)
    mine = df[df["source"] == "intent_seed"]
    assert sorted(mine["text"]) == sorted(seed["text"])
    assert dict(zip(mine["text"], mine["split"], strict=True)) == dict(zip(seed["text"], seed["split"], strict=True))

    new = df[df["source"] == "brand_seed"]
    assert len(new) > 500 and not new["text"].str.contains(DEMO_BRANDS).any()
    assert 0.15 < (new["split"] == "test").mean() < 0.25

    # the same rows labelled for intent (brand_intent.csv): same texts, targets and splits, valid labels
    intent = pd.read_csv(ROOT / "data" / "training" / "brand_intent.csv", dtype=str, keep_default_na=False)
    assert intent[["text", "target", "split"]].equals(new[["text", "target", "split"]].reset_index(drop=True))
    assert len(intent_examples(intent, max_chars=400)) == len(intent)
    praise = intent["label"] == "praise"
    assert (new["label"].to_numpy()[praise.to_numpy()] == "positive").all()

    ex = sentiment_examples(read_training_csv(path), max_chars=400)
    assert len(ex) == len(df) and sum("[[" in e.text for e in ex) == (df["target"] != "").sum()
    assert {e.fixed for e in ex} == {"train", "test"}


def test_a_target_written_as_the_brand_marks_the_whole_inflected_word_in_any_case():
    """Hand-labelled rows name their target as written («Тинькофф»); the mention it stands for is the whole word,
    as the brand matcher marks «Тинькоффа» in a crawled post. SentiRuEval's company slugs still work."""
    from models.train import sentiment_examples
    from models.window import CLOSE, OPEN

    df = pd.DataFrame(
        {
            "text": ["Ушёл из ТИНЬКОФФА в Сбер, и не жалею", "Сбербанк опять завис", "Без бренда"],
            "target": ["Тинькофф", "sberbank", "Тинькофф"],
            "label": ["negative", "negative", "neutral"],
        }
    )
    ex = sentiment_examples(df, max_chars=400)
    assert f"{OPEN}ТИНЬКОФФА{CLOSE} в Сбер" in ex[0].text
    assert f"{OPEN}Сбербанк{CLOSE} опять" in ex[1].text
    assert OPEN not in ex[2].text


def test_intent_rows_with_a_target_mark_the_brand_their_intent_is_about():
    """A text comparing two brands is praise toward one and a complaint about the other: the marked brand is
    what tells the two rows apart, as in a scored mention."""
    from models.train import intent_examples
    from models.window import CLOSE, OPEN

    text = "В Додо привезли за 20 минут, а Папа Джонс вчера опоздал на час"
    df = pd.DataFrame({"text": [text, text, "Курьер опоздал"], "target": ["Додо", "Папа Джонс", None]})
    df["label"] = ["praise", "complaint", "complaint"]
    ex = intent_examples(df, max_chars=400)
    assert f"{OPEN}Додо{CLOSE}" in ex[0].text and OPEN not in ex[0].text.replace(f"{OPEN}Додо", "")
    assert f"{OPEN}Папа Джонс{CLOSE}" in ex[1].text and ex[0].text != ex[1].text
    assert OPEN not in ex[2].text


def _demo_texts() -> list[str]:
    """Every post text of the demo web (forum sites and social stand-ins), read from its YAML."""
    import yaml

    out: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "text" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in sorted((ROOT / "data" / "demo_web").rglob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return out


@pytest.mark.parametrize("name,source", [("thread", "brand_threads"), ("reply", "brand_replies")])
def test_the_hand_written_sets_are_consistent_and_share_no_text_with_the_demo(name, source):
    """data/training/{thread,reply}_{sentiment,intent}.csv: thread replies, advice and multi-sentence stories, one
    row per (text, target) in both files with the same split; targets in their texts; no demo brand, and no text
    that paraphrases a demo post (share of shared words under 0.5), because the demo's answers measure the
    pipeline. The reply rows, written after the thread rows, paraphrase none of them either."""
    from models.train import intent_examples, read_training_csv, sentiment_examples

    folder = ROOT / "data" / "training"
    sent = pd.read_csv(folder / f"{name}_sentiment.csv", dtype=str, keep_default_na=False)
    intent = pd.read_csv(folder / f"{name}_intent.csv", dtype=str, keep_default_na=False)
    assert sent.columns.tolist() == intent.columns.tolist() == ["text", "target", "label", "source", "split", "style"]
    assert sent[["text", "target", "split", "style"]].equals(intent[["text", "target", "split", "style"]])
    assert set(sent["label"]) == {"negative", "neutral", "positive"} and set(sent["source"]) == {source}
    assert all(t.lower() in x.lower() for x, t in zip(sent["text"], sent["target"], strict=True) if t)
    assert not sent.duplicated(["text", "target"]).any() and (sent.groupby("text")["split"].nunique() == 1).all()
    assert 0.15 < (sent["split"] == "test").mean() < 0.25
    # praise is positive, complaints and failures negative, in every row
    pos, neg = sent["label"] == "positive", intent["label"].str.contains("complaint|failure")
    assert (intent.loc[pos, "label"] == "praise").all() and (sent.loc[neg, "label"] == "negative").all()
    assert len(intent_examples(intent, max_chars=400)) == len(intent)
    assert len(sentiment_examples(read_training_csv(folder / f"{name}_sentiment.csv"), 400)) == len(sent)

    assert not sent["text"].str.contains(DEMO_BRANDS).any()
    words = lambda s: set(re.findall(r"\w{3,}", s.lower()))  # noqa: E731
    posts = [w for w in map(words, _demo_texts()) if len(w) >= 4]
    assert len(posts) > 400
    if name != "thread":
        posts += [words(t) for t in pd.read_csv(folder / "thread_intent.csv")["text"]]
    overlap = [max(len(a & b) / min(len(a), len(b)) for b in posts) for a in map(words, sent["text"])]
    assert max(overlap) < 0.5, sent["text"][overlap.index(max(overlap))]
