"""The shape of the house, checked: imports go exporters ← ledger ← esfca and never back
up, no module reaches into another's private names, and no two modules import each other
(directly or round a cycle) when they are loaded. Read from the source (``ast``), so a new
module is checked without being listed here."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("exporters", "ledger", "esfca", "config")
PROJECT = (*APPS, "tests", "bench")  # whose private names no other module may use
# Who may import whom: each app only the ones below it (config wires them all together).
MAY_IMPORT = {
    "exporters": {"exporters"},
    "ledger": {"ledger", "exporters"},
    "esfca": {"esfca", "ledger", "exporters"},
    "config": set(APPS),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for app in PROJECT:
        for path in sorted((ROOT / app).rglob("*.py")):
            found[_module_name(path)] = (path, ast.parse(path.read_text(), str(path)))
    return found


SOURCES = _sources()


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(module, path).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, path: Path, tree: ast.Module, *, top_level_only: bool = False):
    """``(imported module, [(name, bound as)], line)`` for each import of a project module."""
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, path, node)
            if target.split(".")[0] in PROJECT:
                yield target, [(a.name, a.asname or a.name) for a in node.names], node.lineno


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_imports_go_exporters_then_ledger_then_esfca_never_back_up():
    wrong = []
    for module, (path, tree) in SOURCES.items():
        app = module.split(".")[0]
        if app not in APPS:
            continue
        for target, _, line in _imports(module, path, tree):
            if target.split(".")[0] not in MAY_IMPORT[app]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_no_module_imports_another_modules_private_names():
    wrong = []
    for module, (path, tree) in SOURCES.items():
        modules_bound = {}  # local name -> project module, for ``module._name`` uses
        for target, names, line in _imports(module, path, tree):
            if target == module:
                continue
            for name, bound in names:
                if _is_private(name):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}.{name}")
                elif f"{target}.{name}" in SOURCES:
                    modules_bound[bound] = f"{target}.{name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in SOURCES:
                        modules_bound[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules_bound
                and _is_private(node.attr)
            ):
                wrong.append(
                    f"{path.relative_to(ROOT)}:{node.lineno} uses "
                    f"{modules_bound[node.value.id]}.{node.attr}"
                )
    assert wrong == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node], _ = 1, path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node], _ = 2, path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _load_graph() -> dict[str, set[str]]:
    """Which project modules each module imports when it is loaded (its top level)."""
    graph: dict[str, set[str]] = {}
    for module, (path, tree) in SOURCES.items():
        if module.split(".")[0] not in APPS:
            continue
        edges = graph.setdefault(module, set())
        for target, names, _ in _imports(module, path, tree, top_level_only=True):
            submodules = [f"{target}.{n}" for n, _ in names if f"{target}.{n}" in SOURCES]
            edges.update(submodules or ([target] if target in SOURCES else []))
    return graph


def test_no_import_cycles_between_modules():
    assert _cycle(_load_graph()) is None


@pytest.mark.parametrize(
    "graph, cycle",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert _cycle(graph) == cycle
