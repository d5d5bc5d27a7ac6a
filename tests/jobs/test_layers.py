"""The layering of DESIGN.md, read off the source: only the jobs open files, analysis takes
arrays, and nothing but the command line calls the jobs (cycles: tests/test_structure.py).

Every import counts, function-local ones included, and so does the package ``__init__``
that importing a submodule runs first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "latentsym"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imported(path: Path) -> set[str]:
    """Every module name an import statement of ``path`` names (``from a import b``
    gives ``a`` and ``a.b``), relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
    return out


def _latentsym_imports(path: Path) -> set[str]:
    """The latentsym modules ``path`` loads: each import's module and its packages."""
    name = _module_name(path)
    found: set[str] = set()
    for module in _imported(path):
        while module and module not in MODULES:
            module = module.rpartition(".")[0]
        if not module:
            continue
        parts = module.split(".")
        for i in range(2, len(parts) + 1):
            parent = ".".join(parts[:i])
            # a module's own packages are being imported already, not by it
            if parent in MODULES and not f"{name}.".startswith(f"{parent}."):
                found.add(parent)
    found.discard(name)
    return found


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_analysis_never_reaches_up_or_into_files() -> None:
    forbidden = {"io", "jobs", "plotting", "report"}
    bad = {
        name: sorted(m for m in _latentsym_imports(path) if _layer(m) in forbidden)
        for name, path in MODULES.items()
        if _layer(name) == "analysis"
    }
    assert not {k: v for k, v in bad.items() if v}, bad


_FILE_CALLS = {
    "open",
    "read_text",
    "write_text",
    "read_bytes",
    "write_bytes",
    "mkdir",
    "savefig",
    "save",
    "savez",
    "load",
    "to_csv",
}
_FILE_MODULES = {"uproot", "pylhe", "gzip", "shutil", "pickle"}


@pytest.mark.parametrize(
    "name", [n for n in MODULES if _layer(n) == "analysis"], ids=lambda n: n.split(".")[-1]
)
def test_analysis_opens_no_files(name: str) -> None:
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in _FILE_CALLS:
                calls.append(f"line {node.lineno}: {called}(...)")
    modules = {m.split(".")[0] for m in _imported(path)} & _FILE_MODULES
    assert calls == []
    assert sorted(modules) == []


def test_only_the_command_line_calls_the_jobs() -> None:
    callers = sorted(
        name
        for name, path in MODULES.items()
        if _layer(name) != "jobs"
        and name != "latentsym.cli"
        and any(_layer(m) == "jobs" for m in _latentsym_imports(path))
    )
    assert callers == []


def test_jobs_import_the_library_at_module_level() -> None:
    """Function-local imports of latentsym modules hide the dependencies of a job; only the
    command line keeps them, for a fast ``latentsym --help``."""
    local = []
    for name, path in MODULES.items():
        if _layer(name) != "jobs":
            continue
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                    module = getattr(node, "module", None) or ""
                    if module.startswith("latentsym") or any(
                        n.startswith("latentsym") for n in names
                    ):
                        local.append(f"{name}:{node.lineno}")
    assert local == []


# Import cycles and the number of parameters of every function are checked for the whole
# package in tests/test_structure.py.


def test_the_import_reader_sees_local_imports_and_packages() -> None:
    """The command line imports the jobs inside its functions only: the reader finds them,
    and the packages a submodule import runs."""
    found = _latentsym_imports(SRC / "cli.py")
    assert {"latentsym.jobs", "latentsym.models", "latentsym.errors"} <= found
    assert "latentsym.features" in _latentsym_imports(SRC / "analysis" / "scan.py")
