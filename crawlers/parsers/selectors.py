"""CSS selectors matched by walking the tree in Python, for the simple selectors the engine parsers use.

lxml's `CSSSelector` translates CSS to XPath, and libxml2 evaluates a predicate such as a class test at ~1 µs an
element (it builds an XPath value per test): looking for a post's reaction bar among its 40 elements cost ~75 µs,
and such lookups were a third of the engine parsers' time. Walking `el.iter()` and testing attributes in Python
costs ~0.3 µs an element, and `first` stops at the first match.

Only what translates to plain per-element tests is matched here, with the semantics of cssselect's XPath exactly:
type and universal selectors, `.class`, `#id`, attribute selectors (`[a]`, `=`, `~=`, `|=`, `^=`, `$=`, `*=`,
`!=`, no namespace, no `i`/`s` flag), descendant combinators and selector groups. Anything else (child or sibling
combinators, pseudo-classes, namespaces, a selector cssselect rejects) goes to `CSSSelector` as before, so a
selector means the same thing either way; tests/crawlers/test_selectors.py compares both on real pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from cssselect import parse
from cssselect.parser import Attrib, Class, CombinedSelector, Element, Hash
from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement

# XPath's normalize-space() splits on these four only (a form feed or a no-break space stays inside a class name)
_split = re.compile("[ \t\r\n]+").split
_CSS_WS = re.compile("[ \t\r\n\f]")  # cssselect: a `~=` value or class name with one of these never matches
_SAFE_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.-]*$")  # cssselect's is_safe_name (else a name() test)


class _Unsupported(Exception):
    pass


class _Expr:
    """Builds one Python condition over the element `e`, attribute values held in fresh local names."""

    def __init__(self) -> None:
        self.n = 0

    def attr(self, name: str, op: str, value: str | None) -> str:
        """An attribute condition as cssselect's GenericTranslator writes it in XPath (`op` is its operator)."""
        v = f"v{self.n}"
        self.n += 1
        got = f"({v} := e.get({name!r}))"
        if op == "exists":
            return f"e.get({name!r}) is not None"
        assert value is not None
        if op == "=":
            return f"e.get({name!r}) == {value!r}"
        if op == "!=":  # `not(@a) or @a != v` for a value, `@a != ''` for none
            return f"e.get({name!r}) != {value!r}" if value else f"{got} is not None and {v} != ''"
        if op == "~=":  # contains(concat(' ', normalize-space(@a), ' '), ' v ')
            if not value or _CSS_WS.search(value):
                return "False"
            return f"{got} is not None and {value!r} in {v} and {value!r} in _split({v})"
        if op == "|=":
            return f"{got} is not None and ({v} == {value!r} or {v}.startswith({value + '-'!r}))"
        if not value:  # ^=, $=, *= with an empty value match nothing
            return "False"
        if op == "^=":
            return f"{got} is not None and {v}.startswith({value!r})"
        if op == "$=":
            return f"{got} is not None and {v}.endswith({value!r})"
        if op == "*=":
            return f"{got} is not None and {value!r} in {v}"
        raise _Unsupported(op)

    def compound(self, node, check_tag: bool = True) -> tuple[str | None, str]:
        """(tag or None for any element, condition) of a compound selector such as `a.username[href]`; the tag is
        left out of the condition when not `check_tag` (the walk yields only elements of that tag)."""
        tests: list[str] = []
        while not isinstance(node, Element):
            if isinstance(node, Class):
                tests.append(self.attr("class", "~=", node.class_name))
            elif isinstance(node, Hash):
                tests.append(self.attr("id", "=", node.id))
            elif isinstance(node, Attrib):
                if node.namespace or getattr(node, "flag", None) or not _SAFE_NAME.match(node.attrib):
                    raise _Unsupported(node)
                tests.append(self.attr(node.attrib, node.operator, node.value.value if node.value else None))
            else:
                raise _Unsupported(node)
            node = node.selector
        tag = node.element
        if node.namespace is not None or (tag and not _SAFE_NAME.match(tag)):
            raise _Unsupported(node)
        tests.reverse()  # in the order written
        if tag and check_tag:
            tests.insert(0, f"e.tag == {tag!r}")
        return tag or None, " and ".join(f"({t})" for t in tests) or "True"


def _up(e: HtmlElement, scope: HtmlElement, lefts: tuple) -> bool:
    """Descendant combinators: each of `lefts` (nearest first) matches some ancestor of the one before, all
    within `scope` (`descendant-or-self::A/descendant::B`: an A may be `scope` itself, a B is below it). The
    nearest matching ancestor suffices, as every combinator is a descendant one."""
    node = e
    for left in lefts:
        while True:
            if node is scope:
                return False
            node = node.getparent()
            if node is None:
                return False
            if left(node):
                break
    return True


_TEMPLATE = """
def first(el):
    for e in el.iter(*TAGS):
        if {cond}:
            return e
    return None

def all(el):
    return [e for e in el.iter(*TAGS) if {cond}]
"""


class Selector:
    """A compiled CSS selector: `first(el)` (the first match in document order, or None) and `all(el)` (every
    match in document order), over `el` and its descendants, as `CSSSelector(expr)(el)` finds them.

    A supported selector becomes one generated loop whose conditions are inline: a call per element and test
    cost as much as the XPath it replaces."""

    __slots__ = ("expr", "first", "all")

    def __init__(self, expr: str) -> None:
        self.expr = expr
        try:
            self.first, self.all = self._generated(expr)
        except Exception:  # noqa: BLE001 - anything not matched here is lxml's, errors included
            xpath = CSSSelector(expr)
            self.all = xpath
            self.first = lambda el: next(iter(xpath(el)), None)

    @staticmethod
    def _generated(expr: str) -> tuple[Callable, Callable]:
        trees = []
        for sel in parse(expr):
            if sel.pseudo_element:
                raise _Unsupported(expr)
            compounds = []  # right to left: cssselect nests "A B C" as ((A, B), C)
            tree = sel.parsed_tree
            while isinstance(tree, CombinedSelector):
                if tree.combinator != " ":
                    raise _Unsupported(tree.combinator)
                compounds.append(tree.subselector)
                tree = tree.selector
            compounds.append(tree)
            trees.append(compounds)
        if not trees:
            raise _Unsupported(expr)
        x = _Expr()
        tags = {x.compound(c[0])[0] for c in trees}
        one_tag = len(tags) == 1 and None not in tags
        env: dict = {"_split": _split, "_up": _up}
        conds = []
        for i, compounds in enumerate(trees):
            _, cond = x.compound(compounds[0], check_tag=not one_tag)
            if len(compounds) > 1:
                lefts = []
                for c in compounds[1:]:
                    lx = _Expr()
                    lefts.append(eval(f"lambda e: {lx.compound(c)[1]}", {"_split": _split}))  # noqa: S307
                env[f"LEFTS{i}"] = tuple(lefts)
                cond = f"({cond}) and _up(e, el, LEFTS{i})"
            conds.append(f"({cond})")
        # the walk yields only the rightmost compounds' tags (lxml filters them in C), else every element
        env["TAGS"] = tuple(sorted(tags)) if None not in tags else (etree.Element,)
        exec(_TEMPLATE.format(cond=" or ".join(conds)), env)  # noqa: S102 - literals are repr()'d
        return env["first"], env["all"]


@lru_cache(maxsize=2048)
def compiled(expr: str) -> Selector:
    return Selector(expr)
