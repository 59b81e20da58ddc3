"""The scorer shipped in models/weights works on the real offline backbone, without ../shared and training."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def shipped_predictions():
    from models.scoring import predict_texts
    from pipeline.config import load_settings

    s = load_settings()
    s.models.threads = 1
    texts = [
        "Посылкин опять потерял мою посылку, третий раз за месяц, это просто ужас",
        "Спасибо ШопОк, заказ пришёл на день раньше, всё отлично!",
        "Ласточка Банк открыл новое отделение на Ленина",
        "Приложение Ласточка Банк вылетает при входе, ничего не работает",
        "Подскажите, Мобилайн работает в Крыму? Какой тариф взять?",
    ]
    targets = ["Посылкин", "ШопОк", "Ласточка Банк", "Ласточка Банк", "Мобилайн"]
    return predict_texts(s, texts, targets)


def test_shipped_scorer_card_and_spec():
    from models import registry

    d = registry.WEIGHTS_ROOT / registry.DEFAULT_MODEL
    spec = registry.read_spec(d)
    assert spec.tasks["sentiment"].trained and spec.tasks["intent"].trained
    assert (d / "MODEL_CARD.md").exists()
    # fp16 task stacks: sentiment's 12 layers and intent's own 2 (about 3.5 MB a layer) and the heads
    assert (d / registry.WEIGHTS_FILE).stat().st_size < 55_000_000


def test_shipped_scorer_gets_obvious_cases_right(shipped_predictions):
    pr = shipped_predictions
    assert pr.sentiment[0] == "negative" and pr.sentiment[1] == "positive"
    assert pr.p_sentiment[0, 0] > 0.6 and pr.p_sentiment[1, 2] > 0.6
    assert pr.intent[4] == "question"
    assert pr.p_intent[3, 1] > 0.5  # failure: the app crashes
