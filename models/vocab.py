"""Which of the backbone's 250k SentencePiece pieces a Russian and English product needs.

XLM-R's vocabulary covers a hundred languages. It costs a scoring process most of its tokenizer's memory (the
Unigram tokenizer takes about 280 MB loaded, 130 MB cut) and most of the backbone's disk (the fp32 embedding matrix
is 370 of its 470 MB). The ``ru_en`` vocabulary keeps

- every piece whose letters, digits and marks are all ASCII, Latin-1 (é, ü, ñ, ß: the brand names of Western
  Europe) or Cyrillic (punctuation, symbols and emoji of any kind are allowed in it), and
- every single-character piece (with or without the word-start ``▁``), so text in other scripts still reads as
  characters rather than ``<unk>``.

That is 145,446 pieces of 250,002. The guarantee behind the rule: Unigram segmentation picks the best path over the
pieces that match the text, and every piece that can match a text made only of such characters is kept. So a text
whose letters, digits and marks are ASCII, Latin-1 or Cyrillic (after the tokenizer's NFKC normalisation) gets the
pieces it got with the full vocabulary (new ids, same rows of the embedding), and the model reads it exactly as
before. Only text with other letters (Š, ı, Arabic, CJK) may be cut into different, smaller pieces.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

META = "\u2581"  # SentencePiece's word-start mark


def serves_char(ch: str) -> bool:
    """A character the ``ru_en`` vocabulary covers completely: ASCII, Latin-1 (U+00C0-U+00FF), Cyrillic
    (U+0400-U+052F), or anything that is not a letter, digit or mark."""
    o = ord(ch)
    if o < 128 or ch == META or 0xC0 <= o <= 0xFF or 0x400 <= o <= 0x52F:
        return True
    return unicodedata.category(ch)[0] not in "LMN"


def keep_piece(piece: str) -> bool:
    return len(piece.lstrip(META)) <= 1 or all(serves_char(c) for c in piece)


def kept_ids(pieces: Sequence[str], always: Sequence[int] = ()) -> np.ndarray:
    """The ids (ascending, so order and the special pieces' relative places are kept) of the pieces to keep;
    ``always`` (special tokens) are kept whatever they spell."""
    forced = set(always)
    return np.array([i for i, p in enumerate(pieces) if i in forced or keep_piece(p)], dtype=np.int64)


def text_is_served(normalized: str) -> bool:
    """True when the ``ru_en`` vocabulary tokenizes a text whose normalised form is ``normalized`` exactly as the
    full one does (see the module doc). Normalise first: NFKC turns some symbols into letters (㋐ into ア)."""
    return all(serves_char(c) for c in normalized)
