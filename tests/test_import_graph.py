"""Imports flow one way (docs/architecture.md): config -> data -> models -> train -> evaluate -> export -> cli, with
a few helpers below everything. A module may import its own layer or lower ones, never a higher one, and never a
private (underscore) name or module of another package."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOUNDATION = ("keras_tl.errors", "keras_tl.quiet", "keras_tl.progress", "keras_tl.packaged", "keras_tl.edge")
LAYERS = (
    ("keras_tl.config", "keras_tl.text_checkpoint"),
    ("keras_tl.run", "keras_tl.run_files"),
    ("keras_tl.data",),
    ("keras_tl.models",),
    ("keras_tl.train",),
    ("keras_tl.evaluate", "keras_tl.predict"),
    ("keras_tl.api", "keras_tl.quickstart", "keras_tl.docs_reference"),
    ("keras_tl.export",),
    ("keras_tl.cli", "keras_tl.__main__"),
)


def module_name(path: Path) -> str:
    """The installed name: export/ installs as keras_tl.export, mobile_demo/edge as keras_tl.edge."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "export":
        parts = ["keras_tl", *parts]
    elif parts[:2] == ["mobile_demo", "edge"]:
        parts = ["keras_tl", "edge", *parts[2:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(name: str):
    if within(name, FOUNDATION):
        return -1
    for index, prefixes in enumerate(LAYERS):
        if within(name, prefixes):
            return index
    return None


def package_of(name: str) -> str:
    return ".".join(name.split(".")[:2])


def imports(path: Path):
    """(imported module, imported names) of every absolute keras_tl import in the file, lazy ones included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("keras_tl"):
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("keras_tl"):
                    yield alias.name, []


def sources():
    folders = (ROOT / "keras_tl", ROOT / "export", ROOT / "mobile_demo" / "edge")
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer():
    unplaced = [module_name(p) for p in sources() if module_name(p) != "keras_tl" and layer_of(module_name(p)) is None]
    assert not unplaced, f"add these modules to a layer in {Path(__file__).name}: {unplaced}"


def test_imports_flow_one_way():
    against = []
    for path in sources():
        source = module_name(path)
        if source == "keras_tl":
            continue  # the package's lazy attribute table names modules as strings, not imports
        for target, _ in imports(path):
            if layer_of(target) is not None and layer_of(target) > layer_of(source):
                against.append(f"{source} -> {target}")
    assert not against, against


def test_no_private_imports_across_packages():
    private = []
    for path in sources():
        source = module_name(path)
        for target, names in imports(path):
            if package_of(target) == package_of(source):
                continue
            hidden = [n for n in names if n.startswith("_") and not n.endswith("__")]  # __version__ is public
            if hidden or any(part.startswith("_") for part in target.split(".")):
                private.append(f"{source} -> {target} {hidden}")
    assert not private, private


def test_no_test_module_imports_another():
    """Shared test code lives in tests/support (or tests/helpers.py), so every test module can run alone."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name} -> {name}" for name in names if name.startswith("tests.test_")]
    assert not offenders, offenders
