"""Paths built from names that came from config or the command line, kept inside the folder that owns them.

A source named `..` once made its job folder `data/jobs/..`, and removing that folder after the crawl removed the
whole data directory. Every `rmtree` of product code goes through `remove_tree`, which checks its target first.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class UnsafePathError(ValueError):
    """A path that would leave (or be) the folder that owns it."""


def inside(owner: str | Path, target: str | Path) -> Path:
    """`target` resolved (symlinks followed), when it lies strictly inside `owner` resolved; else UnsafePathError."""
    root = Path(owner).resolve()
    t = Path(target).resolve()
    if t == root or root not in t.parents:
        raise UnsafePathError(f"{target}: resolves to {t}, not inside {root}")
    return t


def child(owner: str | Path, name: str) -> Path:
    """`owner/name`, refused unless it lies strictly inside `owner` (names like '..', '.', '/abs', 'a/../..')."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise UnsafePathError(f"{name!r} is not a plain folder name (it would not stay inside {owner})")
    p = Path(owner) / name
    inside(owner, p)
    return p


def remove_tree(target: str | Path, owner: str | Path, ignore_errors: bool = False) -> None:
    """`shutil.rmtree(target)` after checking that the target lies strictly inside `owner`. The check is never
    skipped: `ignore_errors` covers only the removal's own errors."""
    resolved = inside(owner, target)
    if Path(target).is_symlink():  # rmtree refuses links anyway; say why here
        raise UnsafePathError(f"{target}: is a symbolic link, not removed")
    shutil.rmtree(resolved, ignore_errors=ignore_errors)
