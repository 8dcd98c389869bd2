"""The package layout's rule: imports point one way, down (flows -> filters, prompts -> pipeline), with no
circles, counting imports inside functions too."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: a package may import only packages of a lower layer (and itself)
LAYER = {"pipeline": 0, "filters": 1, "prompts": 1, "flows": 2}


def modules() -> dict[str, Path]:
    found = {}
    for package in LAYER:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules that `path` imports, anywhere in it (`from a import b` counts a.b if a module)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {name for name in out if name in known}


GRAPH = {name: imports(path, modules()) for name, path in modules().items()}


def test_the_scan_sees_the_packages() -> None:
    assert {"pipeline.runner", "prompts.compress", "flows.cli"} <= GRAPH.keys()
    assert "prompts.request" in GRAPH["prompts.compress"]


def test_no_module_imports_one_of_a_higher_or_sibling_layer() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if (a := module.split(".")[0]) != (b := target.split(".")[0]) and LAYER[b] >= LAYER[a]
    ]
    assert not wrong


def test_there_is_no_import_circle() -> None:
    try:
        TopologicalSorter(GRAPH).prepare()
    except CycleError as error:
        pytest.fail(f"import circle: {' -> '.join(error.args[1])}")
