"""A wheel of brandmon carries what the demo reads at run time, and the installed code finds it there.

The wheel is built from the repository's tracked files (as a fresh clone would have them), unpacked as pip would
into a private site folder, and imported from another directory: nothing may come from the checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # builds a wheel (about 20 s)

SHIPPED = [
    "brandmon_data/brands.yaml",
    "brandmon_data/sources.yaml",
    "brandmon_data/demo_web/meta.yaml",
    "brandmon_data/demo_web/sites/xf.yaml",
    "brandmon_data/demo_web/social/vk.yaml",
    "brandmon_data/training/intent_seed.csv",
    "brandmon_data/training/brand_sentiment.csv",
    "brandmon_data/training/brand_intent.csv",
    "brandmon_data/training/thread_sentiment.csv",
    "brandmon_data/training/thread_intent.csv",
    "brandmon_data/training/reply_sentiment.csv",
    "brandmon_data/training/reply_intent.csv",
    "models/weights/brandmon-scorer/weights.safetensors",
    "models/weights/brandmon-scorer/scorer.json",
]

PROBE = r"""
import json, sys
from pathlib import Path
from pipeline.bundled import bundled
from pipeline.config import load_settings
from demo.web import corpus
from flows.demo import seed_demo_config
import models.registry as registry, models.themes as themes, models.quantize as quantize
s = load_settings(None, data_dir=Path(sys.argv[1]))
written = seed_demo_config(s)
c = corpus.load()
print(json.dumps({
    "modules": [m.__file__ for m in (corpus, themes, registry)],
    "demo_web": str(corpus.DEFAULT_CONTENT_DIR), "sites": len(c.sites),
    "seed": str(themes._SEED_FILE), "seed_exists": themes._SEED_FILE.exists(),
    "calibration": str(quantize.CALIBRATION_TEXTS), "weights": str(registry.WEIGHTS_ROOT),
    "written": sorted(p.name for p in written), "sources": Path(s.sources_file).read_text(encoding="utf-8"),
}))
"""


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    files = subprocess.run(
        [
            "git",
            "ls-files",
            "-co",
            "--exclude-standard",
            "--",
            "pyproject.toml",
            "setup.py",
            "README.md",
            "LICENSE",
            "crawlers",
            "pipeline",
            "models",
            "dashboard",
            "flows",
            "brandmon",
            "demo",
            "data",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    out = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return next(out.glob("brandmon-*.whl"))


def test_the_wheel_ships_the_demo_files_and_the_installed_code_finds_them(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [f for f in SHIPPED if f not in names], sorted(n for n in names if not n.endswith(".py"))
    assert not [n for n in names if n.startswith("brandmon_data/") and n.split("/")[1] in ("cache", "raw", "jobs")]

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-c", PROBE, str(elsewhere / "demo-data")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert all(m.startswith(str(site)) for m in got["modules"]), got["modules"]  # the installed copy, not the repo
    assert got["demo_web"] == str(site / "brandmon_data" / "demo_web") and got["sites"] >= 7
    assert got["seed"] == str(site / "brandmon_data" / "training" / "intent_seed.csv") and got["seed_exists"]
    assert got["calibration"] == got["seed"]
    assert got["weights"] == str(site / "models" / "weights")
    assert got["written"] == ["brands.yaml", "sources.yaml"]
    assert got["sources"] == (ROOT / "data" / "sources.yaml").read_text(encoding="utf-8")
