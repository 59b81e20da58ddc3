"""Values and readers more than one test area uses. Fixtures are in tests/conftest.py.

Import them relatively (``from ..helpers import NOW, read_items``): the suite runs in importlib mode, without
``tests`` on sys.path.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONTENT = ROOT / "data" / "demo_web"

# The tests' clock where its value does not matter, only that it is fixed: the demo web dates its posts relative
# to it, and fixtures that write rows date them from it. Tests whose expectations hang on a particular instant
# (a Friday, the day a saved page was read) keep their own, named for that.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def read_items(run_dir: str | Path) -> list[dict]:
    """Every item of a crawl run's raw folder, in file order (gzipped JSON lines, as the crawler writes them)."""
    out: list[dict] = []
    for f in sorted(Path(run_dir).glob("items-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh]
    return out
