"""Text normalisation and the scored context window."""

from __future__ import annotations

import unicodedata

from pipeline.normalize import context_window, dedup_key, normalize_text


def test_normalize_text():
    decomposed = unicodedata.normalize("NFD", "Посылкин йод ёж")
    assert decomposed != "Посылкин йод ёж"
    assert normalize_text(decomposed) == "Посылкин йод ёж"
    assert normalize_text("ШопОк &amp; Ко &laquo;лучшие&raquo;&nbsp;цены &#128545;") == "ШопОк & Ко «лучшие» цены 😡"
    assert (
        normalize_text("  много\u00a0\u00a0  пробелов\t и\u200b невидимых\r\n\r\n\n  строк  ")
        == "много пробелов и невидимых\nстрок"
    )
    assert normalize_text("эмодзи остаются 👍🏽❤️") == "эмодзи остаются 👍🏽❤️"
    assert normalize_text("plain ascii  text") == "plain ascii text"


def test_dedup_key_ignores_case_punctuation_and_yo():
    assert dedup_key("Ёлки-палки, ПОСЫЛКИН!!!") == dedup_key("елки палки посылкин")


def test_context_window_cuts_at_sentence_or_word_boundaries():
    before = "Первое предложение про погоду. Второе про работу и пробки на дороге. "
    mention = "Посылкин потерял посылку"
    after = ". Потом ещё что-то случилось, и ещё. Последнее предложение совсем про другое."
    text = before + mention + after
    start = len(before)
    end = start + len("Посылкин")
    ctx, off = context_window(text, start, end, 45)
    assert text[off : off + len(ctx)] == ctx
    assert ctx == "Второе про работу и пробки на дороге. Посылкин потерял посылку. Потом ещё что-то"
    # a sentence end in the outer half of the window wins over a word boundary
    assert context_window(text, start, end, 20)[0] == "пробки на дороге. Посылкин потерял посылку."
    assert context_window(text, start, end, 70)[0] == text.strip()[: text.index("Последнее")].strip()
    # the whole text when it is short
    assert context_window("Посылкин ок", 0, 8, 320) == ("Посылкин ок", 0)
    # a window never exceeds the configured size much
    long = ("слово " * 500) + mention + (" слово" * 500)
    ctx, _ = context_window(long, 3000, 3008, 100)
    assert len(ctx) <= 2 * 100 + len(mention) and mention[:8] in ctx
    assert not ctx.startswith("лово") and not ctx.endswith("сло")


def test_shingles_and_jaccard():
    from pipeline.dedup import jaccard, shingles

    assert shingles("а б в г") == frozenset({("а", "б", "в"), ("б", "в", "г")})
    assert shingles("а б") == frozenset({("а", "б")}) and shingles("") == frozenset({()})
    a, b = shingles("посылка пришла через две недели"), shingles("посылка пришла через три недели")
    # 3 shingles each, 1 shared ("посылка пришла через"): 1 / 5
    assert jaccard(a, b) == 1 / 5 and jaccard(a, a) == 1.0 and jaccard(a, frozenset()) == 0.0
