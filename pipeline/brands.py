"""Brand matching: which brands a text mentions, and where.

`BrandMatcher(brands)` is built once from `list[BrandConfig]` and then `match(text, source=None)` returns
one `Match` per brand (the first occurrence that survives every rule).

How a word matches an alias, cheaply:
1. one compiled regex over the first letters of every alias word (Cyrillic and Latin spellings) finds the few
   candidate words of a text; every other word is never looked at;
2. a candidate's *keys* are computed once (LRU cache): a Latin skeleton of the word itself, of each pymorphy3
   normal form, and of the word with an inflection ending or an "-ский" derivation cut off. The skeleton
   transliterates Cyrillic to Latin and folds spelling variants (x→ks, y→i, c→k, doubled letters), so
   Озона / Озоне / озоновский / Ozon share the key "ozon" and Боксберри / Boxberry share "boksberi";
3. an alias matches when its key is among the candidate's keys (multiword aliases: each next word too).

Rules on top: an *ambiguous alias* (a common word: ласточка, зерно) counts only when it is capitalised as
written in brands.yaml and a `require_context` word appears within `ambiguous_window` characters; an
*exclusion* phrase ("Андрей Посылкин") found within `exclusion_window` characters of a match cancels that
match; `excluded_sources` skip the brand for those sources; a `query` (see `parse_query`) must also hold
for the text (for a brand with no aliases the query alone decides, and the first word it hit is the span).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.config import BrandConfig, Settings

# ------------------------------------------------------------------------------------------- keys

_CYR2LAT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sch",
    "ъ": "",
    "ы": "i",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
    "ä": "a",
    "ö": "o",
    "ü": "u",
    "é": "e",
}
_TRANS = str.maketrans(_CYR2LAT)
_LATIN_FOLD = [
    ("kh", "h"),
    ("x", "ks"),
    ("w", "v"),
    ("y", "i"),
    ("j", "i"),
    ("q", "k"),
    ("ck", "k"),
    ("ph", "f"),
    ("c", "k"),
    ("kh", "h"),
]
_DOUBLE = re.compile(r"(.)\1+")
_CYR = re.compile(r"[а-яё]")


def skeleton(word: str) -> str:
    """Script-independent spelling key of one lowercase word (Посылкин, Posylkin → posilkin)."""
    w = word.lower().translate(_TRANS)
    for a, b in _LATIN_FOLD:
        if a in w:
            w = w.replace(a, b)
    return _DOUBLE.sub(r"\1", w)


# Inflection endings (in skeleton spelling), longest first; and "-ский"-type derivations of names.
_ENDINGS = sorted(
    [
        "a",
        "u",
        "e",
        "i",
        "o",
        "om",
        "oi",
        "ei",
        "ov",
        "ami",
        "ah",
        "am",
        "ih",
        "im",
        "iu",
        "ia",
        "oiu",
        "eiu",
        "ogo",
        "omu",
        "ego",
        "emu",
        "em",
        "ev",
        "iami",
        "iah",
        "iam",
        "'s",
        "s",
    ],
    key=len,
    reverse=True,
)
_DERIV = re.compile(r"(?:ov|ev)?sk(?:i|aia|oe|ie|ogo|omu|om|oi|im|ih|imi|uiu)$")


_morph = None


def _morph_analyzer():
    global _morph
    if _morph is None:
        import pymorphy3

        _morph = pymorphy3.MorphAnalyzer()
    return _morph


@lru_cache(maxsize=200_000)
def word_keys(word: str) -> frozenset[str]:
    """Every key a (lowercase) text word can match an alias word by (cached: words repeat a lot)."""
    keys = {skeleton(word)}
    known = False
    if _CYR.search(word):
        parses = _morph_analyzer().parse(word)[:4]
        known = any(p.is_known for p in parses)
        for p in parses:
            keys.add(skeleton(p.normal_form))
    for k in list(keys):
        d = _DERIV.sub("", k)
        if d != k and len(d) >= 3:
            keys.add(d)
        # Cutting endings is for names the dictionary does not know (Посылкина, ШопОку); a known word's
        # lemmas are exact, and cutting them would equate кофейное/кофейня.
        if not known and _CYR.search(word):
            for e in _ENDINGS:
                if k.endswith(e) and len(k) - len(e) >= 3:
                    keys.add(k[: -len(e)])
    return frozenset(keys)


@lru_cache(maxsize=50_000)
def term_key(word: str) -> frozenset[str]:
    """Keys of a configured word (alias word, context word, query term): itself and its lemma, no cutting."""
    w = word.lower()
    keys = {skeleton(w)}
    known = False
    if _CYR.search(w):
        p = _morph_analyzer().parse(w)[0]
        known = p.is_known
        keys.add(skeleton(p.normal_form))
    # An unknown name ending in a vowel must also match its stem as cut from inflected forms (word_keys cuts
    # endings of unknown words); a known word is matched through its lemma instead.
    base = skeleton(w)
    if not known and base and base[-1] in "aeiou" and len(base) >= 5:
        keys.add(base[:-1])
    return frozenset(keys)


def word_matches(word: str, term: frozenset[str]) -> bool:
    return not word_keys(word).isdisjoint(term)


# ------------------------------------------------------------------------------------------- prefixes

_LAT2CYR = [
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("ya", "я"),
    ("yu", "ю"),
    ("a", "а"),
    ("b", "б"),
    ("c", "к"),
    ("d", "д"),
    ("e", "е"),
    ("f", "ф"),
    ("g", "г"),
    ("h", "х"),
    ("i", "и"),
    ("j", "дж"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("q", "к"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("v", "в"),
    ("w", "в"),
    ("x", "кс"),
    ("y", "ы"),
    ("z", "з"),
]
_ALT = {"е": ["э"], "ы": ["и", "й"], "и": ["ай", "ы"], "к": ["ц", "с"], "у": ["ю"], "ю": ["у"]}


def _lat_to_cyr(w: str) -> str:
    out, i = [], 0
    while i < len(w):
        for a, b in _LAT2CYR:
            if w.startswith(a, i):
                out.append(b)
                i += len(a)
                break
        else:
            out.append(w[i])
            i += 1
    return "".join(out)


def _trie_regex(words: set[str]) -> str:
    """A regex alternation factored by common prefixes (Python's re tries alternatives one by one)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: dict) -> str:
        if "" in node and len(node) == 1:
            return ""
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        # a shorter prefix that ends here already makes the word a candidate
        return "" if "" in node else body

    return "(?:" + emit(trie) + ")"


def _prefixes(word: str, n: int = 4) -> set[str]:
    """Short surface prefixes a text spelling of `word` must start with, in both scripts."""
    w = word.lower().replace("ё", "е")
    out = {w[:n]}
    if _CYR.search(w):
        lat = w.translate(_TRANS)
        out |= {lat[:n], lat.replace("i", "y")[:n], skeleton(w)[:n]}
        out.add(w.replace("е", "ё")[:n])
    else:
        cyr = _lat_to_cyr(w)
        out.add(cyr[:n])
        for i, ch in enumerate(cyr[:n]):
            for alt in _ALT.get(ch, []):
                out.add((cyr[:i] + alt + cyr[i + 1 :])[:n])
    return {p for p in out if p}


# ------------------------------------------------------------------------------------------- queries


class QueryError(ValueError):
    """A brand query does not parse; the message says where and why."""


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a "quoted phrase"
    prefix: bool = False  # trailing * on a single word: prefix match on the spelling


@dataclass(frozen=True)
class Not:
    child: object


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


@dataclass(frozen=True)
class Near:
    left: object
    right: object
    distance: int


# Brackets and NOTs nest at most this deep: real queries nest 2-3 levels, and the parser (and evaluation) recurse
# once per level, so 20,000 brackets must be a QueryError rather than a RecursionError.
MAX_QUERY_DEPTH = 32


def _shown(query: str, limit: int = 60) -> str:
    """The query as quoted in an error: a long one is cut so the message stays one readable line."""
    return repr(query if len(query) <= limit else query[:limit] + "…")


_QTOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|(NEAR/\d+)|(AND|OR|NOT)(?![\w*])|([^\s()"]+)|("))')


def parse_query(query: str) -> object:
    """Parse `a AND (b OR "c d") NOT e`, `a NEAR/3 b`, `доставк*` into an AST. Adjacent terms mean AND.

    Precedence: NEAR binds tightest, then NOT, AND, OR. Raises QueryError with the position of the problem.
    """
    shown = _shown(query)
    toks: list[tuple[str, str, int]] = []
    pos = 0
    q = query.strip()
    while pos < len(q):
        m = _QTOKEN.match(q, pos)
        if not m or m.end() == pos:
            break
        at = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        if m.group(1):
            toks.append(("(", "(", at))
        elif m.group(2):
            toks.append((")", ")", at))
        elif m.group(3) is not None:
            if not m.group(3).strip():
                raise QueryError(f"query {shown}: empty phrase at position {at}")
            toks.append(("PHRASE", m.group(3), at))
        elif m.group(4):
            toks.append(("NEAR", m.group(4), at))
        elif m.group(5):
            toks.append((m.group(5), m.group(5), at))
        elif m.group(6):
            if m.group(6).upper().startswith("NEAR"):
                raise QueryError(f"query {shown}: NEAR needs a distance like NEAR/3 at position {at}")
            toks.append(("WORD", m.group(6), at))
        else:
            raise QueryError(f"query {shown}: unterminated quote at position {at}")
        pos = m.end()
    if not toks:
        raise QueryError(f"query {shown}: empty query")
    i = 0
    depth = 0

    def nest():
        nonlocal depth
        depth += 1
        if depth > MAX_QUERY_DEPTH:
            raise QueryError(
                f"query {shown}: brackets or NOTs nested deeper than {MAX_QUERY_DEPTH} levels at {where()}"
            )

    def peek() -> str | None:
        return toks[i][0] if i < len(toks) else None

    def where() -> str:
        return f"position {toks[i][2]}" if i < len(toks) else "the end"

    def parse_or():
        nonlocal i
        kids = [parse_and()]
        while peek() == "OR":
            i += 1
            kids.append(parse_and())
        return kids[0] if len(kids) == 1 else Or(tuple(kids))

    def parse_and():
        nonlocal i
        kids = [parse_not()]
        while peek() in ("AND", "NOT", "WORD", "PHRASE", "("):
            if peek() == "AND":
                i += 1
            kids.append(parse_not())
        return kids[0] if len(kids) == 1 else And(tuple(kids))

    def parse_not():
        nonlocal i, depth
        if peek() == "NOT":
            nest()
            i += 1
            node = Not(parse_not())
            depth -= 1
            return node
        return parse_near()

    def parse_near():
        nonlocal i
        left = parse_atom()
        while peek() == "NEAR":
            n = int(toks[i][1].split("/")[1])
            i += 1
            right = parse_atom()
            for side in (left, right):
                if not _positional(side):
                    raise QueryError(f"query {shown}: NEAR needs words or phrases on both sides")
            left = Near(left, right, n)
        return left

    def parse_atom():
        nonlocal i, depth
        kind = peek()
        if kind == "(":
            nest()
            i += 1
            node = parse_or()
            if peek() != ")":
                raise QueryError(f"query {shown}: missing ')' at {where()}")
            i += 1
            depth -= 1
            return node
        if kind == "WORD":
            w = toks[i][1]
            i += 1
            words = tuple(x for x in re.findall(r"\w+", w.lower()))
            if not words:
                raise QueryError(f"query {shown}: {_shown(w, 30)} has no letters")
            return Term(words, prefix=w.endswith("*") and len(words) == 1)
        if kind == "PHRASE":
            ph = toks[i][1]
            i += 1
            return Term(tuple(re.findall(r"\w+", ph.lower())))
        if kind is None:
            raise QueryError(f"query {shown}: expected a word, phrase or '(' at the end")
        raise QueryError(f"query {shown}: unexpected {toks[i][1]!r} at {where()}")

    node = parse_or()
    if i != len(toks):
        raise QueryError(f"query {shown}: unexpected {toks[i][1]!r} at {where()}")
    return node


def _positional(node: object) -> bool:
    return isinstance(node, Term) or (isinstance(node, Or) and all(_positional(c) for c in node.children))


def query_terms(node: object, positive: bool = True) -> list[Term]:
    """Terms that can make the query true (not under NOT): the prefilter looks for these."""
    if isinstance(node, Term):
        return [node] if positive else []
    if isinstance(node, Not):
        return query_terms(node.child, not positive)
    if isinstance(node, (And, Or)):
        return [t for c in node.children for t in query_terms(c, positive)]
    if isinstance(node, Near):
        return query_terms(node.left, positive) + query_terms(node.right, positive)
    return []


_WORD = re.compile(r"\w+")


class _Doc:
    """A text's words for query evaluation; word keys are computed lazily, only for words a term could hit."""

    def __init__(self, text: str):
        self.spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        self.words = [text[s:e].lower() for s, e in self.spans]
        self._hits: dict[Term, list[int]] = {}

    def hits(self, t: Term) -> list[int]:
        """Word indexes where term t starts."""
        if t in self._hits:
            return self._hits[t]
        out: list[int] = []
        if t.prefix:
            sk = skeleton(t.words[0])
            out = [i for i, w in enumerate(self.words) if w.startswith(t.words[0]) or skeleton(w).startswith(sk)]
        else:
            keys = [term_key(w) for w in t.words]
            first = t.words[0][:2]
            n = len(keys)
            for i, w in enumerate(self.words):
                if i + n > len(self.words):
                    break
                if not (w[:2] == first or w[:1] == first[:1]) and skeleton(w)[:2] != skeleton(first)[:2]:
                    continue
                if all(word_matches(self.words[i + j], keys[j]) for j in range(n)):
                    out.append(i)
        self._hits[t] = out
        return out


def _positions(node: object, doc: _Doc) -> list[tuple[int, int]]:
    if isinstance(node, Term):
        return [(i, i + len(node.words) - 1) for i in doc.hits(node)]
    if isinstance(node, Or):  # the parser puts only terms and ORs of terms under NEAR (_positional)
        return [p for c in node.children for p in _positions(c, doc)]
    raise TypeError(node)


def evaluate(node: object, doc: _Doc) -> bool:
    if isinstance(node, Term):
        return bool(doc.hits(node))
    if isinstance(node, Not):
        return not evaluate(node.child, doc)
    if isinstance(node, And):
        return all(evaluate(c, doc) for c in node.children)
    if isinstance(node, Or):
        return any(evaluate(c, doc) for c in node.children)
    if isinstance(node, Near):
        lp, rp = _positions(node.left, doc), _positions(node.right, doc)
        return any(max(b0 - a1, a0 - b1) <= node.distance for a0, a1 in lp for b0, b1 in rp)
    raise TypeError(node)


# ------------------------------------------------------------------------------------------- matcher


@dataclass(frozen=True)
class Match:
    brand_id: str
    start: int
    end: int
    matched: str  # the text as written


@dataclass
class _Alias:
    brand_id: str
    words: tuple[frozenset[str], ...]  # keys per alias word
    ambiguous: bool
    capital: bool  # the alias is written capitalised (ambiguous aliases must be too)
    cyrillic: bool


@dataclass
class _Brand:
    cfg: BrandConfig
    query: object | None
    query_prefilter: re.Pattern | None
    exclusions: list[tuple[tuple[frozenset[str], ...], bool]] = field(default_factory=list)
    context: list[frozenset[str]] = field(default_factory=list)
    exclusion_prefilter: re.Pattern | None = None  # the words of exclusions that are not the brand's own name


def _alias_words(alias: str) -> list[str]:
    return _WORD.findall(alias)


class BrandMatcher:
    def __init__(self, brands: Sequence[BrandConfig], ambiguous_window: int = 200, exclusion_window: int = 40):
        self.ambiguous_window = ambiguous_window
        self.exclusion_window = exclusion_window
        self.brands: dict[str, _Brand] = {}
        self._by_first: dict[str, list[_Alias]] = {}
        prefixes: set[str] = set()
        for b in brands:
            q = parse_query(b.query) if b.query else None
            qpre = None
            if q is not None:
                terms = query_terms(q)
                qp = set()
                for t in terms:
                    qp |= _prefixes(t.words[0], 2)
                qpre = re.compile(r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, qp))) + ")", re.I) if qp else None
                if not b.aliases:
                    prefixes |= {p for t in terms for p in _prefixes(t.words[0], 2)}
            br = _Brand(b, q, qpre)
            alias_keys = {k for a in b.aliases + b.ambiguous_aliases for w in _alias_words(a) for k in term_key(w)}
            for x in b.exclusions:
                ws = _alias_words(x)
                if ws:
                    phrase = tuple(term_key(w) for w in ws)
                    br.exclusions.append((phrase, any(not k.isdisjoint(alias_keys) for k in phrase)))
            # each exclusion needs at least one word that is not an alias word; look for those cheaply first
            own = set()
            for x in b.exclusions:
                ws = _alias_words(x)
                other = [w for w in ws if term_key(w).isdisjoint(alias_keys)] or ws
                for w in other:
                    own |= _prefixes(w, 3)
            if own:
                br.exclusion_prefilter = re.compile(r"(?<!\w)" + _trie_regex({p.lower() for p in own}), re.I)
            br.context = [term_key(w) for w in b.require_context]
            self.brands[b.id] = br
            ambiguous = {a.lower() for a in b.ambiguous_aliases}
            for a in list(dict.fromkeys(b.aliases + b.ambiguous_aliases)):
                words = _alias_words(a)
                if not words:
                    continue
                al = _Alias(
                    brand_id=b.id,
                    words=tuple(term_key(w) for w in words),
                    ambiguous=a.lower() in ambiguous,
                    capital=words[0][:1].isupper(),
                    cyrillic=bool(_CYR.search(a.lower())),
                )
                for k in al.words[0]:
                    self._by_first.setdefault(k, []).append(al)
                prefixes |= _prefixes(words[0])
        # a word is a run of letters and digits: "_" separates, so handles and tags (@tinkoff_bank,
        # #ozon_help) name the brand too
        self._candidates = (
            re.compile(r"(?<![^\W_])" + _trie_regex({p.lower() for p in prefixes}) + r"[^\W_]*", re.IGNORECASE)
            if prefixes
            else None
        )
        self._lookup_cache: dict[str, list[_Alias] | None] = {}

    # -------------------------------------------------------------------------------------------

    def match(self, text: str, source: str | None = None) -> list[Match]:
        """The brands `text` mentions: one Match per brand (its first occurrence that counts)."""
        if self._candidates is None:
            return []
        found: dict[str, Match] = {}
        doc: _Doc | None = None
        query_ok: dict[str, bool] = {}
        cache = self._lookup_cache
        for m in self._candidates.finditer(text):
            word = m.group().lower()
            if word in cache:
                aliases = cache[word]
            else:
                aliases = self._aliases_for(word)
                if len(cache) < 500_000:
                    cache[word] = aliases
            if not aliases:
                continue
            for al in aliases:
                if al.brand_id in found:
                    continue
                br = self.brands[al.brand_id]
                if source is not None and source in br.cfg.excluded_sources:
                    continue
                end = self._match_rest(text, m.end(), al.words[1:])
                if end is None:
                    continue
                word_cyr = bool(_CYR.search(word))
                if al.ambiguous and al.cyrillic == word_cyr:
                    if al.capital and not m.group()[:1].isupper():
                        continue
                    if not self._has_context(text, m.start(), end, br):
                        continue
                elif not al.ambiguous and word_cyr != al.cyrillic and self._shadowed(word, al):
                    continue
                if br.exclusions and self._excluded(text, m.start(), end, br):
                    continue
                if br.query is not None:
                    if al.brand_id not in query_ok:
                        doc = doc or _Doc(text)
                        query_ok[al.brand_id] = evaluate(br.query, doc)
                    if not query_ok[al.brand_id]:
                        continue
                found[al.brand_id] = Match(al.brand_id, m.start(), end, text[m.start() : end])
        # brands defined by a query alone
        for bid, br in self.brands.items():
            if bid in found or br.cfg.aliases or br.query is None:
                continue
            if source is not None and source in br.cfg.excluded_sources:
                continue
            if br.query_prefilter is not None and not br.query_prefilter.search(text):
                continue
            doc = doc or _Doc(text)
            if evaluate(br.query, doc):
                for t in query_terms(br.query):
                    hits = doc.hits(t)
                    if hits:
                        s = doc.spans[hits[0]][0]
                        e = doc.spans[hits[0] + len(t.words) - 1][1]
                        found[bid] = Match(bid, s, e, text[s:e])
                        break
        return sorted(found.values(), key=lambda x: x.start)

    def _aliases_for(self, word: str) -> list[_Alias] | None:
        """Aliases whose first word this text word can be, longest first (so "Ласточка Банк" beats the
        ambiguous "Ласточка")."""
        found: list[_Alias] = []
        for k in word_keys(word):
            for al in self._by_first.get(k, ()):
                if al not in found:
                    found.append(al)
        return sorted(found, key=lambda a: -len(a.words)) or None

    def _shadowed(self, word: str, al: _Alias) -> bool:
        """An alias in one script must not let in, by transliteration, a word of the other script that the
        same brand lists as ambiguous: Lastochka must not let in the bird ласточка, nor ДНС the network's DNS
        (the ambiguous alias itself still matches, with its context)."""
        br = self.brands[al.brand_id]
        keys = word_keys(word)
        for a in br.cfg.ambiguous_aliases:
            ws = _alias_words(a)
            if ws and not keys.isdisjoint(term_key(ws[0])):
                return True
        return False

    def _match_rest(self, text: str, pos: int, rest: tuple[frozenset[str], ...]) -> int | None:
        end = pos
        for keys in rest:
            m = _NEXT_WORD.match(text, end)
            if not m or not word_matches(m.group(1).lower(), keys):
                return None
            end = m.end()
        return end

    def _has_context(self, text: str, start: int, end: int, br: _Brand) -> bool:
        if not br.context:
            return True
        w = self.ambiguous_window
        window = text[max(0, start - w) : start] + " " + text[end : end + w]
        for word in _WORD.findall(window):
            wl = word.lower()
            keys = word_keys(wl)
            for c in br.context:
                if not keys.isdisjoint(c):
                    return True
        return False

    def names_exclusion(self, text: str, brand_id: str) -> bool:
        """Whether `text` contains one of the brand's exclusion phrases anywhere (a namesake, a homonym): a reply
        that names "Андрей Посылкин" is not about Посылкин even in a thread that is."""
        br = self.brands.get(brand_id)
        if br is None or not br.exclusions:
            return False
        if br.exclusion_prefilter is not None and not br.exclusion_prefilter.search(text):
            return False
        words = [m.group().lower() for m in _WORD.finditer(text)]
        for phrase, _ in br.exclusions:
            n = len(phrase)
            for i in range(len(words) - n + 1):
                if all(word_matches(words[i + j], phrase[j]) for j in range(n)):
                    return True
        return False

    def _excluded(self, text: str, start: int, end: int, br: _Brand) -> bool:
        w = self.exclusion_window
        lo = max(0, start - w - 60)
        hi = min(len(text), end + w + 60)
        if br.exclusion_prefilter is not None and not br.exclusion_prefilter.search(text, lo, hi):
            return False
        spans = [(m.start() + lo, m.end() + lo, m.group().lower()) for m in _WORD.finditer(text[lo:hi])]
        for phrase, names_brand in br.exclusions:
            n = len(phrase)
            # "Андрей Посылкин" names the brand itself: it cancels only the match it overlaps, not a real
            # mention of the brand a few words later; other exclusions cancel matches within the window.
            slack = 0 if names_brand else w
            for i in range(len(spans) - n + 1):
                if all(word_matches(spans[i + j][2], phrase[j]) for j in range(n)):
                    s, e = spans[i][0], spans[i + n - 1][1]
                    if s < end + slack and e > start - slack:
                        return True
        return False


_NEXT_WORD = re.compile(r"[\s\-–—.,:«»\"'&+_]{1,3}([^\W_]+)")


def build_matcher(brands: Iterable[BrandConfig], settings: Settings | None = None) -> BrandMatcher:
    if settings is None:
        return BrandMatcher(list(brands))
    return BrandMatcher(
        list(brands),
        ambiguous_window=settings.ingest.ambiguous_window_chars,
        exclusion_window=settings.ingest.exclusion_window_chars,
    )
