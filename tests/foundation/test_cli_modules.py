"""Each command module stands on its own: its commands are module-level functions on its own Typer, which runs
without the app (settings from the environment, as `settings_of` falls back to)."""

from __future__ import annotations

import importlib
import pkgutil

from typer.testing import CliRunner

import brandmon.cli
from brandmon.cli import app


def test_every_command_module_registers_module_level_commands():
    mods = [m.name for m in pkgutil.iter_modules(brandmon.cli.__path__) if m.name.endswith("_cmds")]
    assert len(mods) >= 10
    for name in mods:
        mod = importlib.import_module(f"brandmon.cli.{name}")
        for info in getattr(mod, "cli", None).registered_commands if hasattr(mod, "cli") else []:
            # a module-level function, importable by name: not a closure made inside register()
            assert "<locals>" not in info.callback.__qualname__, (name, info.callback.__qualname__)
            assert getattr(mod, info.callback.__name__) is info.callback
        assert callable(mod.register)
    names = {c.callback.__name__ for c in app.registered_commands}
    assert {"sql", "kpis_cmd", "alerts_cmd", "run", "crawl_cmd", "demo"} <= names


def test_a_command_module_runs_alone(tmp_path):
    from brandmon.cli import db_cmds, queue_cmds

    env = {"BRANDMON_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(db_cmds.db, ["upgrade"], env=env).exit_code == 0
    res = runner.invoke(queue_cmds.cli, ["alerts", "--format", "csv"], env=env)
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith("alert_id,kind,brand_id")
