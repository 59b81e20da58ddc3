"""Adding a source to sources.yaml as text (`brandmon sources add`): the user's comments and layout stay as written.

The entry is appended as a new list item, indented like the file's own items; the result must pass `config check`
before it replaces the file, atomically (a temporary file beside it, then a rename), so a refused or interrupted
add leaves the file exactly as it was. A name or start URL already in the file is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pipeline.config import ConfigError, Settings, load_sources
from pipeline.config_check import check_config

_ITEM = re.compile(r"^( *)- ", re.MULTILINE)
_KEY = re.compile(r"^sources:[ \t]*(#.*)?$", re.MULTILINE)  # the key of an empty block list
_EMPTY_FLOW = re.compile(r"^sources:[ \t]*\[[ \t]*\][ \t]*(#.*)?$", re.MULTILINE)  # `sources: []`


class SourceExists(ValueError):
    """The name or a start URL of the new source is already in the file."""


def _same_url(a: str) -> str:
    return a.strip().rstrip("/").lower()


def duplicates(settings: Settings, name: str, start_urls: list[str]) -> str | None:
    """Why the new source would repeat one in the file (by name, or by a start URL), or None."""
    path = Path(settings.sources_file)
    if not path.exists() or _ITEM.search(path.read_text(encoding="utf-8")) is None:  # no source in it yet
        return None
    try:
        existing = load_sources(path, settings.demo_web_url)
    except ConfigError as e:
        raise ConfigError(f"{e} (fix it before adding a source)") from None
    wanted = {_same_url(u) for u in start_urls}
    for s in existing:
        if s.name == name:
            return f"{path}: a source named {name!r} exists already (choose another with --name)"
        same = wanted & {_same_url(u) for u in s.start_urls}
        if same:
            return f"{path}: source {s.name!r} crawls {min(same)} already"
    return None


def appended(text: str, entry_text_for: Any) -> str:
    """`text` with the entry (`entry_text_for(indent)` → its YAML lines) appended as the last list item.
    A file without items yet (empty, comments only, `sources:` or `sources: []`) gets a block list."""
    if not text.strip():
        return "sources:\n" + entry_text_for(2)
    m = _ITEM.search(text)
    if m is None:
        text = _EMPTY_FLOW.sub(lambda e: "sources:" + (f"  {e.group(1)}" if e.group(1) else ""), text, count=1)
        if not _KEY.search(text):
            text = text.rstrip("\n") + "\nsources:\n"
        return text + ("" if text.endswith("\n") else "\n") + entry_text_for(2)
    indent = len(m.group(1)) if m else 2
    if not text.endswith("\n"):
        text += "\n"
    return text + "\n" + entry_text_for(indent)


def add_source(
    settings: Settings, name: str, start_urls: list[str], entry_text_for: Any, engines: Collection[str]
) -> Path:
    """Append the entry to `settings.sources_file` when the result passes config check; returns the file.
    Raises SourceExists, or ConfigError with every problem config check found in the result."""
    path = Path(settings.sources_file)
    if why := duplicates(settings, name, start_urls):
        raise SourceExists(why)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    new = appended(old, entry_text_for)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        if path.exists():
            shutil.copymode(path, tmp)
        res = check_config(settings.model_copy(update={"sources_file": Path(tmp)}), engines)
        if res.problems:
            raise ConfigError("; ".join(p.replace(tmp, str(path)) for p in res.problems))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
