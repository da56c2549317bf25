"""The package's structure keeps its promises (the layer contracts themselves run as
``lint-imports`` in the test command)."""

from __future__ import annotations

import ast
from pathlib import Path

import chatkit_lab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chatkit_lab"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _stage(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def test_no_module_imports_a_private_name_of_another_stage() -> None:
    offences = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if not node.module.startswith("chatkit_lab"):
                continue
            target = node.module.split(".")[1] if "." in node.module else ""
            if target == _stage(path):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    offences.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
    assert offences == []


def test_no_notebook_calls_or_mentions_redaction() -> None:
    # Redaction happens in the functions that produce what a notebook shows, never by hand.
    hits = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "notebooks").rglob("*")
        if path.is_file() and "redact" in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert hits == []


def test_the_public_api_is_small_and_every_name_resolves() -> None:
    assert 15 <= len(chatkit_lab.__all__) <= 30
    for name in chatkit_lab.__all__:
        assert getattr(chatkit_lab, name) is not None


def test_the_core_names_no_backend_even_in_a_string() -> None:
    offences = [
        str(path.relative_to(ROOT))
        for path in _modules()
        if "backends" not in path.relative_to(PACKAGE).parts
        and "chatkit_lab.backends" in path.read_text(encoding="utf-8")
    ]
    assert offences == []


def _circles() -> list[str]:
    """Every pair of modules of one package that reach each other through imports."""
    import grimp

    graph = grimp.build_graph("chatkit_lab")
    found = []
    for module in sorted(graph.modules):
        package = module.rsplit(".", 1)[0]
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.rsplit(".", 1)[0] != package or imported == package:
                continue
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain is not None:
                found.append(" -> ".join((module, *chain)))
    return found


def test_no_module_of_the_package_reaches_itself_through_its_imports() -> None:
    assert _circles() == []


def test_only_the_report_stage_imports_pandas() -> None:
    # Data models stay plain data: the tables a notebook shows are the report's.
    offences = []
    for path in _modules():
        if _stage(path) == "report":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offences += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in names
                if name.split(".")[0] == "pandas"
            ]
    assert offences == []
