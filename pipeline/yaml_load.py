"""YAML for files people write by hand (brands.yaml, sources.yaml), read with limits a hostile file cannot pass.

A plain `yaml.safe_load` lets a few hundred bytes of anchors expand to a billion strings once something copies them
(pydantic, JSON), recurses once per nesting level (20,000 brackets end in a RecursionError traceback), reads any
size (29 MB took minutes) and keeps the last of two equal keys silently. Here:

- the file's size is checked before it is read (`MAX_BYTES`);
- the composed node graph is measured before anything is constructed: aliases may add at most
  `MAX_ALIAS_NODES` nodes to what is written, nesting may not go deeper than `MAX_DEPTH`, and an alias inside its
  own anchor is refused (the walk is iterative, memoised per node: linear in the written nodes);
- a key written twice in one mapping is an error naming the key and its line (`<<` merge keys stay allowed and
  may be overridden, as YAML intends).

libyaml (the C parser) is used when present; it also caps flow nesting at 1,000 levels by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# Config files are a few KiB; 5 MiB leaves room for thousands of brands or sources and keeps parsing under ~2 s.
MAX_BYTES = 5 * 2**20
# Nodes that aliases may add beyond those written: anchors for shared defaults need a few hundred; a billion
# laughs needs 10^9.
MAX_ALIAS_NODES = 100_000
# brands.yaml and sources.yaml nest 5-6 levels (options: a few more); Python recursion would give out near 1,000.
MAX_DEPTH = 64


class YamlError(ValueError):
    """The file is not acceptable YAML; the message is one line naming the file and, where known, the line."""


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader whose mappings refuse a key written twice."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in seen:  # scalar keys are always hashable
                    raise _Duplicate(key, line, seen[key])
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _Duplicate(Exception):
    def __init__(self, key: Any, line: int, first: int):
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _measure(root: Node, max_alias_nodes: int, max_depth: int) -> str | None:
    """What is wrong with the node graph's shape, or None. Iterative post-order walk over the graph with each node
    measured once: its expanded size (itself plus every descendant, aliases counted each time) and depth."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    written = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            kids = _children(node)
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            depth[nid] = 1 + max((depth[id(k)] for k in kids), default=0)
            if depth[nid] > max_depth:
                return f"line {node.start_mark.line + 1}: nested deeper than {max_depth} levels"
            if size[nid] - written > max_alias_nodes:
                return (
                    f"line {node.start_mark.line + 1}: aliases expand to more than {max_alias_nodes:,} nodes "
                    "beyond those written (the limit for aliases)"
                )
            continue
        if nid in size:
            continue
        if nid in on_path:
            return f"line {node.start_mark.line + 1}: an alias refers to its own anchor (an endless structure)"
        written += 1
        on_path.add(nid)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)
    return None


def load_yaml_file(
    path: str | Path, *, max_bytes: int = MAX_BYTES, max_alias_nodes: int = MAX_ALIAS_NODES, max_depth: int = MAX_DEPTH
) -> Any:
    """The document in `path` (None when empty). Raises FileNotFoundError, or YamlError with a one-line message."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise YamlError(
            f"{path}: the file is {size / 2**20:.1f} MiB, larger than the {max_bytes / 2**20:g} MiB "
            "limit for a config file"
        )
    try:
        text = path.read_bytes()[: max_bytes + 1].decode("utf-8")
    except UnicodeDecodeError as e:
        raise YamlError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return loads(text, str(path), max_alias_nodes=max_alias_nodes, max_depth=max_depth)


def loads(
    text: str, name: str = "<string>", *, max_alias_nodes: int = MAX_ALIAS_NODES, max_depth: int = MAX_DEPTH
) -> Any:
    """Parse one YAML document from `text` with the limits above; `name` starts every error message."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problem = _measure(node, max_alias_nodes, max_depth)
        if problem:
            raise YamlError(f"{name}: {problem}")
        return loader.construct_document(node)
    except _Duplicate as d:
        raise YamlError(f"{name}: line {d.line}: duplicate key {d.key!r} (first at line {d.first})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if "nesting depth" in problem:  # libyaml's own cap (1,000 flow levels) met before ours
            raise YamlError(
                f"{name}: line {mark.line + 1 if mark else '?'}: nested deeper than {max_depth} levels"
            ) from None
        raise YamlError(f"{name}: invalid YAML at {where}: {problem}") from None
    except RecursionError:  # a shape the walk above does not see (it should not happen): still one line
        raise YamlError(f"{name}: nested too deeply") from None
    finally:
        loader.dispose()
