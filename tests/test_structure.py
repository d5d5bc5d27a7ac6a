"""Guard rails of the package's structure, read from the source with :mod:`ast`.

Every ``.py`` file under ``src/latentsym`` is parsed (nothing is imported) and checked for:

1. **At most 8 parameters** per function or method, counting positional-only, ordinary and
   keyword-only parameters and ``*args`` / ``**kwargs`` (one each); the first parameter of
   a function defined in a class body is not counted when it is ``self``, ``cls`` or
   ``mcs``. Nested functions and methods of nested classes count too. More settings
   belong in a frozen config object (``Architecture``, ``TrainConfig``, ...).
2. **No private names across modules**: ``from latentsym.x import _name`` (or the
   attribute ``_name`` of an imported latentsym module, ``lhe._positive``) is refused when
   ``_name`` has one leading underscore; dunder names (``__version__``) are fine. Private
   *modules* (``latentsym._json``, ``latentsym.io._root_layouts``) are the package's
   internal API and may be imported; their public names are what they offer.
3. **No import cycles** among latentsym modules. Every import statement counts: at
   module level, inside functions (a local import that dodges a cycle at run time is
   still a dependency running backwards) and under ``if TYPE_CHECKING:``. Edges:

   - ``import latentsym.a.b`` and ``from latentsym.a.b import y``: to ``latentsym.a.b``;
   - ``from latentsym.a import b`` where ``latentsym/a/b.py`` (or ``b/``) exists: to
     ``latentsym.a.b``, the submodule, not to the package ``latentsym.a``;
   - ``from latentsym.a import name`` for any other name: to ``latentsym.a`` (its
     ``__init__``); relative imports are resolved the same way.

   Importing ``latentsym.a.b`` also runs ``latentsym/a/__init__.py`` first, but that
   implicit edge from a module to its parent packages is *not* added: with it, every
   package whose ``__init__`` re-exports its own submodules would form a cycle with each
   of them, which says nothing. A package ``__init__`` is a cycle member only through
   imports written in it or written *to* it (``from latentsym.analysis import relevance``
   inside ``latentsym.analysis.scan``, when ``relevance`` is a name and not a submodule,
   is an edge to ``latentsym.analysis``, whose ``__init__`` imports ``scan``: a cycle).
   Each strongly connected component of more than one module is reported with one cycle
   through it and the lines of its imports.
4. **``__all__`` in every module** (an assignment at module level), as the conventions
   ask.

The messages list every offender (``path:line``), so one run shows all that is left.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest

PACKAGE = "latentsym"
SRC = Path(__file__).resolve().parents[1] / "src"
MAX_PARAMETERS = 8
_BOUND_FIRST = ("self", "cls", "mcs")


@dataclass
class _Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    imports: list[tuple[str, int]] = field(default_factory=list)  # (target module, line)


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _load_modules() -> dict[str, _Module]:
    modules = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        name, is_package = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules[name] = _Module(name, path, is_package, tree)
    return modules


def _link_imports(modules: dict[str, _Module]) -> None:
    for m in modules.values():
        m.imports = [(t, line) for t, line, _ in _resolve_imports(m) if t != m.name]


MODULES = _load_modules()
# C extension modules (``latentsym/io/_lhe_scan.c``): they import nothing of latentsym, so
# an import of one is no edge of the import graph (and not an import of its package)
EXTENSIONS = {_module_name(p.with_suffix(".py"))[0] for p in (SRC / PACKAGE).rglob("*.c")}


def _where(module: _Module, line: int) -> str:
    return f"{module.path.relative_to(SRC.parent)}:{line}"


def _base_of(module: _Module, node: ast.ImportFrom) -> str:
    """Absolute dotted name of the ``from X`` part (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    parts = package.split(".")
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(p for p in [*parts, node.module or ""] if p)


def _existing(name: str) -> str | None:
    """``name`` or its longest prefix that is a latentsym module."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _resolve_imports(module: _Module) -> Iterator[tuple[str, int, str | None]]:
    """``(target module, line, imported name or None)`` of every latentsym import."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE and (target := _existing(alias.name)):
                    yield target, node.lineno, None
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(module, node)
            if base.split(".")[0] != PACKAGE or base in EXTENSIONS:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    yield sub, node.lineno, None
                elif target := _existing(base):
                    yield target, node.lineno, alias.name


_link_imports(MODULES)


# ---------------------------------------------------------------------------- 1. parameters


def _functions(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """Every function with whether it is defined directly in a class body."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield child, isinstance(node, ast.ClassDef)
            stack.append(child)


def _n_parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> int:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    n = len(positional) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if in_class and not is_static and positional and positional[0].arg in _BOUND_FIRST:
        n -= 1
    return n


def parameter_offenders() -> list[str]:
    out = []
    for module in MODULES.values():
        for fn, in_class in _functions(module.tree):
            n = _n_parameters(fn, in_class)
            if n > MAX_PARAMETERS:
                out.append(f"{_where(module, fn.lineno)} {fn.name}: {n} parameters")
    return sorted(out)


# ---------------------------------------------------------------------------- 2. private names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (head := _dotted(node.value)):
        return f"{head}.{node.attr}"
    return None


def _module_aliases(module: _Module) -> dict[str, str]:
    """Local names bound to latentsym modules by ``import ... [as x]`` / ``from ... import``."""
    names: dict[str, str] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        names[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(module, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    names[alias.asname or alias.name] = f"{base}.{alias.name}"
    return names


def private_import_offenders() -> list[str]:
    out = []
    for module in MODULES.values():
        for target, line, name in _resolve_imports(module):
            if name is not None and _is_private(name) and target != module.name:
                out.append(f"{_where(module, line)} imports {name} from {target}")
        aliases = _module_aliases(module)
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            head = _dotted(node.value)
            if head is None or head.split(".")[0] not in aliases:
                continue
            first, _, rest = head.partition(".")
            target = ".".join(p for p in (aliases[first], rest) if p)
            private_module = f"{target}.{node.attr}" in MODULES
            if target in MODULES and target != module.name and not private_module:
                out.append(f"{_where(module, node.lineno)} uses {target}.{node.attr}")
    return sorted(set(out))


# ---------------------------------------------------------------------------- 3. cycles


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative) with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def _cycle_in(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle through the first module of a strongly connected component (BFS)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    nxt.append(child)
        frontier = nxt
    raise AssertionError(f"no cycle found in the component {component}")


def import_graph() -> dict[str, set[str]]:
    return {name: {t for t, _ in m.imports} for name, m in MODULES.items()}


def cycle_offenders() -> list[str]:
    graph = import_graph()
    out = []
    for component in _components(graph):
        cycle = _cycle_in(component, graph)
        steps = []
        for a, b in pairwise(cycle):
            lines = sorted({line for t, line in MODULES[a].imports if t == b})
            steps.append(f"  {a} -> {b}  ({', '.join(_where(MODULES[a], n) for n in lines)})")
        out.append(f"{len(component)} modules: {', '.join(component)}; e.g.\n" + "\n".join(steps))
    return out


# ---------------------------------------------------------------------------- 4. __all__


def _defines_all(tree: ast.Module) -> bool:
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign | ast.AugAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


def missing_all_offenders() -> list[str]:
    return sorted(
        str(m.path.relative_to(SRC.parent)) for m in MODULES.values() if not _defines_all(m.tree)
    )


# ---------------------------------------------------------------------------- the tests


def _report(offenders: list[str], what: str) -> None:
    if offenders:
        pytest.fail(f"{len(offenders)} {what}:\n" + "\n".join(offenders), pytrace=False)


def test_the_package_is_found() -> None:
    assert f"{PACKAGE}.io.lhe" in MODULES, f"no modules found under {SRC / PACKAGE}"


def test_functions_take_at_most_8_parameters() -> None:
    _report(parameter_offenders(), f"functions with more than {MAX_PARAMETERS} parameters")


def test_no_private_names_imported_from_other_modules() -> None:
    _report(private_import_offenders(), "uses of another module's private name")


def test_no_import_cycles() -> None:
    _report(cycle_offenders(), "import cycles among latentsym modules")


def test_every_module_has_all() -> None:
    _report(missing_all_offenders(), "modules without __all__")


# ---------------------------------------------------------------------------- the checker itself


def _fake(tmp: dict[str, str]) -> dict[str, _Module]:
    mods = {}
    for name, text in tmp.items():
        path = SRC.joinpath(*name.split(".")).with_suffix(".py")
        mods[name] = _Module(name, path, False, ast.parse(text))
    return mods


def test_checker_counts_parameters() -> None:
    tree = ast.parse(
        "def f(a, b, /, c, *args, d, **kw): ...\n"
        "class C:\n"
        "    def m(self, a, b, c, d, e, f, g, h): ...\n"
        "    @staticmethod\n"
        "    def s(self, a, b, c, d, e, f, g, h): ...\n"
    )
    counts = {fn.name: _n_parameters(fn, in_class) for fn, in_class in _functions(tree)}
    assert counts == {"f": 6, "m": 8, "s": 9}


def test_checker_finds_a_cycle_and_resolves_submodules(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake(
        {
            "latentsym.p": "from latentsym.p import a\n",
            "latentsym.p.a": "from latentsym.p.b import x\n",
            "latentsym.p.b": "def f():\n    from latentsym.p import a\n",
            "latentsym.q": "from latentsym.p import b\nfrom latentsym.p.a import _y\n",
        }
    )
    fake["latentsym.p"].is_package = True
    monkeypatch.setattr(sys.modules[__name__], "MODULES", fake)
    _link_imports(fake)
    assert import_graph() == {
        "latentsym.p": {"latentsym.p.a"},
        "latentsym.p.a": {"latentsym.p.b"},
        "latentsym.p.b": {"latentsym.p.a"},
        "latentsym.q": {"latentsym.p.b", "latentsym.p.a"},
    }
    assert _components(import_graph()) == [["latentsym.p.a", "latentsym.p.b"]]
    assert private_import_offenders() == ["src/latentsym/q.py:2 imports _y from latentsym.p.a"]
