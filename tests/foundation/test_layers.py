"""The layers hold: `pipeline` (the base) imports none of the packages above it, and no library package imports
the `brandmon` app. Every module is read with `ast`, so imports inside functions and names handed to
`importlib.import_module` count too (the CLI once hid a package cycle that way)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ABOVE_PIPELINE = {"crawlers", "models", "flows", "dashboard", "brandmon", "demo"}
# demo-only code (the demo web, the API stand-ins, the synthetic database) is used by these product modules only
DEMO_USERS = {"flows/demo.py", "brandmon/cli/demoweb_cmds.py"}


def imported(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in `source`, wherever it stands."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
        ):
            out.append((node.lineno, node.args[0].value.split(".")[0]))
    return out


def violations(package: str, forbidden: set[str]) -> list[str]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert len(files) > 3, f"no modules found under {package}/"
    return [
        f"{f.relative_to(ROOT)}:{line} imports {name}"
        for f in files
        for line, name in imported(f.read_text(encoding="utf-8"))
        if name in forbidden
    ]


def test_the_checker_sees_imports_inside_functions_and_importlib():
    src = (
        "import json\n"
        "def f():\n    from models.registry import activate\n"
        "def g():\n    import importlib\n    return importlib.import_module('flows.stages')\n"
        "from . import store\n"
    )
    assert imported(src) == [(1, "json"), (3, "models"), (5, "importlib"), (6, "flows")]


def test_pipeline_imports_nothing_above_it():
    bad = violations("pipeline", ABOVE_PIPELINE)
    assert not bad, "pipeline/ is the base layer:\n" + "\n".join(bad)


def test_no_library_package_imports_the_app():
    bad = [v for pkg in ("crawlers", "models", "flows", "dashboard") for v in violations(pkg, {"brandmon"})]
    assert not bad, "the brandmon app sits on top:\n" + "\n".join(bad)


def test_only_the_demo_commands_import_the_demo_package():
    bad = [
        v
        for pkg in ("crawlers", "models", "flows", "dashboard", "brandmon")
        for v in violations(pkg, {"demo"})
        if v.split(":")[0] not in DEMO_USERS
    ]
    assert not bad, "demo/ is demo-only code; the product does not import it:\n" + "\n".join(bad)
