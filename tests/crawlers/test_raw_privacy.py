"""The raw layer keeps personal data only when `crawl.keep_original_text` says so."""

from __future__ import annotations

import pytest

from crawlers.demoweb.corpus import add_post
from crawlers.run import crawl_sources
from pipeline.store import Store

from .conftest import DEMO_NOW, crawl_settings, read_items

PII = "Пишите на anna.k@example.ru или звоните +7 (912) 345-67-89, карта 4276 3800 1234 5679, стоила 1 490 ₽"


@pytest.mark.parametrize("keep", [False, True])
def test_raw_layer_masks_pii_unless_told_to_keep_it(tmp_path, demo, demo_dir, keep):
    pid = add_post(demo_dir, "xf", 101, "Анна", PII, minutes_ago=5)
    s = crawl_settings(tmp_path, demo.url, keep_original_text=keep)
    store = Store.from_settings(s)
    store.upgrade()
    run = crawl_sources(s, store, ["demo-xf"], now=DEMO_NOW)["sources"]["demo-xf"]
    text = next(i["text"] for i in read_items(run["raw_path"]) if i["post_id"] == pid)
    if keep:
        assert text == PII
    else:
        assert "anna.k@example.ru" not in text and "345-67-89" not in text and "4276 3800" not in text
        assert "[EMAIL]" in text and "[PHONE]" in text and "[CARD]" in text
        assert "1 490 ₽" in text  # prices are not personal data
