"""Legal, refund, chargeback and public-threat terms, matched by lemma (Russian morphology) or stem.

A term is a phrase of one or more words. Each word matches a token when it equals any of the token's
pymorphy3 normal forms ("суда" → суд | судно, so "до суда" matches "суд"), or, when written with a
trailing ``*``, when the token starts with the stem (for English inflections and words pymorphy3 guesses).
Words of a phrase must appear in order with at most `MAX_GAP` other tokens between them
("верните мне мои деньги" matches "вернуть деньга").

Pure functions; no I/O. `match_terms(text)` returns the matched terms with their category and weight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_GAP = 2

# (phrase, category, weight). Weights are how strongly the phrase signals that a human must act now.
DEFAULT_TERMS: list[tuple[str, str, float]] = [
    # legal action
    ("суд", "legal", 1.0),
    ("иск", "legal", 1.0),
    ("исковый", "legal", 1.0),
    ("юрист", "legal", 0.9),
    ("адвокат", "legal", 0.9),
    ("прокуратура", "legal", 1.0),
    ("прокурор", "legal", 1.0),
    ("досудебный", "legal", 0.9),
    ("претензия", "legal", 0.8),
    ("lawyer*", "legal", 0.9),
    ("attorney*", "legal", 0.9),
    ("lawsuit*", "legal", 1.0),
    ("sue", "legal", 1.0),
    ("sued", "legal", 1.0),
    ("suing", "legal", 1.0),
    ("court", "legal", 0.9),
    ("legal action", "legal", 1.0),
    # regulators
    ("роспотребнадзор*", "regulator", 1.0),
    ("цб", "regulator", 0.9),
    ("центробанк*", "regulator", 0.9),
    ("центральный банк", "regulator", 0.9),
    ("фас", "regulator", 0.9),
    ("роскомнадзор*", "regulator", 0.9),
    ("финансовый уполномоченный", "regulator", 1.0),
    ("омбудсмен*", "regulator", 0.9),
    # chargeback
    ("чарджбэк*", "chargeback", 0.9),
    ("чарджбек*", "chargeback", 0.9),
    ("chargeback*", "chargeback", 0.9),
    ("оспорить платёж", "chargeback", 0.9),
    ("оспорить операция", "chargeback", 0.9),
    # refund / compensation
    ("вернуть деньга", "refund", 0.8),
    ("возврат деньга", "refund", 0.8),
    ("возврат средство", "refund", 0.8),
    ("возврат", "refund", 0.5),
    ("компенсация", "refund", 0.6),
    ("неустойка", "refund", 0.8),
    ("refund*", "refund", 0.7),
    ("money back", "refund", 0.8),
    # going public
    ("сми", "public", 0.8),
    ("журналист", "public", 0.7),
    ("огласка", "public", 0.8),
    ("пикет", "public", 0.8),
    # fraud accusations
    ("мошенник", "fraud", 0.7),
    ("мошенничество", "fraud", 0.8),
    ("обман", "fraud", 0.6),
    ("обмануть", "fraud", 0.6),
    ("scam*", "fraud", 0.7),
    ("fraud*", "fraud", 0.8),
    # churn threats
    ("расторгнуть договор", "churn", 0.5),
    ("уйти к конкурент", "churn", 0.5),
    ("закрыть счёт", "churn", 0.5),
    ("отказаться от услуга", "churn", 0.5),
    ("cancel* subscription*", "churn", 0.5),
]

_TOKEN = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)


@dataclass(frozen=True)
class Term:
    phrase: str
    category: str
    weight: float
    words: tuple[str, ...]


@dataclass(frozen=True)
class TermMatch:
    phrase: str
    category: str
    weight: float
    found: str  # the words as written in the text


def _norm(s: str) -> str:
    return s.lower().replace("ё", "е")


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def lemmas(token: str) -> frozenset[str]:
    """Every normal form pymorphy3 offers for a token (plus the token itself), ё folded to е."""
    t = _norm(token)
    if not re.search("[а-я]", t):
        return frozenset({t})
    return frozenset({t} | {_norm(p.normal_form) for p in _morph().parse(t)})


class Lexicon(list):
    """Compiled terms, indexed by their first word so a text is scanned once, not once per term."""

    def __init__(self, terms: list[Term]):
        super().__init__(terms)
        self.by_lemma: dict[str, list[Term]] = {}
        self.by_stem: list[tuple[str, Term]] = []
        for t in terms:
            first = t.words[0]
            if first.endswith("*"):
                self.by_stem.append((first[:-1], t))
            else:
                self.by_lemma.setdefault(first, []).append(t)

        self._cache: dict[str, list[Term]] = {}

    def starting_at(self, token: str, token_lemmas: frozenset[str]) -> list[Term]:
        hit = self._cache.get(token)
        if hit is None:
            hit = [t for lem in token_lemmas for t in self.by_lemma.get(lem, ())]
            hit += [t for stem, t in self.by_stem if token.startswith(stem)]
            if len(self._cache) < 500_000:
                self._cache[token] = hit
        return hit


def compile_terms(extra: dict[str, float] | None = None) -> Lexicon:
    """The default lexicon plus `extra` phrases (phrase → weight, category 'custom'; weight 0 drops a term)."""
    table: dict[str, tuple[str, float]] = {p: (c, w) for p, c, w in DEFAULT_TERMS}
    for phrase, weight in (extra or {}).items():
        if weight <= 0:
            table.pop(phrase, None)
        else:
            table[phrase] = ("custom", float(weight))
    terms = []
    for phrase, (cat, w) in table.items():
        words = tuple(_norm(x) for x in phrase.split())
        terms.append(Term(phrase, cat, w, words))
    return Lexicon(terms)


def _word_matches(word: str, token: str, token_lemmas: frozenset[str]) -> bool:
    if word.endswith("*"):
        return token.startswith(word[:-1])
    return word in token_lemmas


def match_terms(text: str, terms: Lexicon | list[Term]) -> list[TermMatch]:
    """Terms present in `text`, strongest first; each phrase reported once."""
    lex = terms if isinstance(terms, Lexicon) else Lexicon(list(terms))
    raw = _TOKEN.findall(text or "")
    toks = [_norm(t) for t in raw]
    lems = [lemmas(t) for t in toks]
    found: dict[str, TermMatch] = {}
    for i, tok in enumerate(toks):
        for term in lex.starting_at(tok, lems[i]):
            if term.phrase in found:
                continue
            pos, ok = i, True
            for word in term.words[1:]:
                nxt = next(
                    (
                        j
                        for j in range(pos + 1, min(len(toks), pos + 2 + MAX_GAP))
                        if _word_matches(word, toks[j], lems[j])
                    ),
                    None,
                )
                if nxt is None:
                    ok = False
                    break
                pos = nxt
            if ok:
                found[term.phrase] = TermMatch(term.phrase, term.category, term.weight, " ".join(raw[i : pos + 1]))
    return sorted(found.values(), key=lambda m: (-m.weight, m.phrase))
