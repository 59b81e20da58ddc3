"""Where the files brandmon ships with live: the demo's sources.yaml and brands.yaml, the demo web's content, the
intent seed set.

In the repository they are under `data/` (the product's layout, next to the user's own files when the data folder
is the default `./data`). A wheel carries the same files as the package `brandmon_data` (setup.py maps it to
`data/`), installed beside `pipeline/`. Every reader asks here instead of counting parent folders from its own file,
so the demo works from a checkout, an editable install and a plain `pip install .` alike.
"""

from __future__ import annotations

from pathlib import Path

_SITE = Path(__file__).resolve().parents[1]  # site-packages, or the repository root of a checkout

# the installed copy first: in a checkout `brandmon_data/` does not exist
ROOTS = (_SITE / "brandmon_data", _SITE / "data")


def bundled(*parts: str) -> Path:
    """The shipped file or folder `data/<parts>` (e.g. `bundled("demo_web")`). When no copy has it, the
    checkout's path, so that the error of whoever opens it names the file that is missing."""
    for root in ROOTS:
        p = root.joinpath(*parts)
        if p.exists():
            return p
    return ROOTS[-1].joinpath(*parts)
