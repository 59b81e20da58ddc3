"""Theme keywords: class-based TF-IDF over Russian lemmas (pymorphy3), stop words removed.

Pure functions; `themes.py` calls `ctfidf_keywords` with the cluster labels. A term's weight in a cluster is
(share of the cluster's documents containing it) x log(1 + A / f_t), where f_t is the term's document count in
the whole batch and A the average documents per cluster (BERTopic's c-TF-IDF, counted per document so one long
post cannot dominate a theme).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

WORD_RE = re.compile(r"[а-яёa-z]+(?:-[а-яёa-z]+)?", re.IGNORECASE)

# Function words, pronouns, politeness and appeal boilerplate that would otherwise top every theme.
STOP_WORDS = frozenset(
    """
    а без более бы был была были было быть в вам вас весь во вот все всё всего всех вы где да даже для до его
    ее её ей ему если есть еще ещё же за здесь и из или им их к как какой когда кто ли либо между меня мне мной
    мы на над нам нас не него нее неё нет ни них но ну о об однако он она они оно от очень по под после при про
    с сам свой себя со так также такой там те тем то тогда того тоже только том ты у уже хотя чего чей чем что
    чтобы чьё эта эти это этот я который которая которые это этом этой этих тот та тех весь всякий каждый
    сей оный мой твой наш ваш свой себе сама сами само самый один два три раз ещё вообще просто именно вроде
    типа как-то где-то кто-то что-то когда-то либо нибудь нибудь-то ли-то уж вон ведь лишь разве неужели
    быть стать мочь сказать говорить делать сделать хотеть иметь являться становиться
    здравствуйте здравствовать добрый день вечер утро уважаемый уважаемые прошу просить просьба пожалуйста
    спасибо благодарить помочь помогите подсказать подскажите заранее вопрос ответ ответить ответа
    который-то также-то нужно надо можно нельзя почему зачем сколько очень снова опять уже всегда никогда
    сегодня вчера завтра сейчас теперь потом тут год месяц неделя день час минута время дата
    это-то весьма довольно много мало немного больше меньше лучше хуже хорошо плохо
    the a an and or but of to in on for with at by from is are was were be been it this that as not no
    my your our their i you we they he she me us them have has had do does did so if then than too very
    can could would should will just about into up out over also any all some there here what which who
    """.split()
)

KEEP_POS = frozenset({"NOUN", "ADJF", "ADJS", "VERB", "INFN", "PRTF", "PRTS", None})


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


PROPER = frozenset({"Name", "Surn", "Patr", "Geox"})  # names and places (street names) are not topics


@lru_cache(maxsize=200_000)
def _lemma(word: str) -> tuple[str, str | None]:
    parses = _morph().parse(word)
    p = parses[0]
    # lower-cased input loses capitals, so a likely name/place reading (street "Кулакова") is enough to drop it
    if any(PROPER & set(q.tag.grammemes) for q in parses[:3] if q.score >= 0.3):
        return p.normal_form, "PROPER"
    return p.normal_form, p.tag.POS


def lemmas(text: str, extra_stop: Iterable[str] = ()) -> list[str]:
    """Content-word lemmas of a text, lower-cased, stop words and 1-2 letter tokens dropped."""
    extra = set(extra_stop)
    out: list[str] = []
    for w in WORD_RE.findall((text or "").lower()):
        if len(w) < 3 or w in STOP_WORDS:
            continue
        lem, pos = _lemma(w)
        if pos not in KEEP_POS or lem in STOP_WORDS or lem in extra or len(lem) < 3:
            continue
        out.append(lem)
    return out


def stop_lemmas(words: Iterable[str]) -> set[str]:
    """Lemmas of extra words to drop (e.g. a brand's name and aliases, which would top every theme)."""
    out: set[str] = set()
    for w in words:
        for t in WORD_RE.findall((w or "").lower()):
            out.add(t)
            out.add(_lemma(t)[0])
    return out


def ctfidf_keywords(
    docs_lemmas: Sequence[Sequence[str]], labels: Sequence[int], top_n: int = 8
) -> dict[int, list[tuple[str, float]]]:
    """Top keywords per cluster label (>= 0; -1 = unassigned takes part in document frequencies only)."""
    import math

    df_all: Counter[str] = Counter()
    per_cluster: dict[int, Counter[str]] = {}
    n_docs: Counter[int] = Counter()
    for lem, lab in zip(docs_lemmas, labels):
        terms = set(lem)
        df_all.update(terms)
        n_docs[lab] += 1
        if lab >= 0:
            per_cluster.setdefault(lab, Counter()).update(terms)
    if not per_cluster:
        return {}
    avg = sum(n_docs.values()) / max(1, len(n_docs))
    out: dict[int, list[tuple[str, float]]] = {}
    for lab, cnt in per_cluster.items():
        scored = [
            (t, (c / n_docs[lab]) * math.log(1.0 + avg / df_all[t]))
            for t, c in cnt.items()
            if c >= 2 or n_docs[lab] < 3  # a keyword should describe more than one member
        ]
        scored.sort(key=lambda x: (-x[1], x[0]))
        out[lab] = [(t, round(s, 4)) for t, s in scored[:top_n]]
    return out


def label_from_keywords(keywords: Sequence[tuple[str, float]] | Sequence[str], n: int = 3) -> str:
    words = [k[0] if isinstance(k, (tuple, list)) else k for k in keywords][:n]
    return " / ".join(words) if words else "(no keywords)"
