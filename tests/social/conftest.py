"""Social-area helpers: settings limited to chosen demo sources. The demo web with its API stand-ins is the
`demo` fixture of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def sources_settings(tmp_path, url, names, patch=None, **overrides):
    """Settings whose sources.yaml holds only the named demo sources (each updated by `patch[name]`)."""
    from pipeline.config import load_settings

    data = yaml.safe_load((ROOT / "data" / "sources.yaml").read_text(encoding="utf-8"))
    data["sources"] = [s for s in data["sources"] if s["name"] in names]
    for s in data["sources"]:
        s.update((patch or {}).get(s["name"], {}))
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(
        data_dir=tmp_path / "data",
        demo_web_url=url,
        sources_file=path,
        brands_file=ROOT / "data" / "brands.yaml",
        **overrides,
    )
