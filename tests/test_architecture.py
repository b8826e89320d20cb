"""The layers of README's "How data flows", checked on the import graph of the repository's own modules.

    warehouse/  ◄──  pipelines/ · metrics/  ◄──  shopkpi/ (settings, auth, reports, cli, ui) · pages/ · app.py

Imports follow the arrows only: the warehouse imports no other layer; pipelines/ and metrics/ import the warehouse,
not each other, nothing of shopkpi/ (they take paths and options as arguments; settings are read at the edge) and
never Streamlit; the reports, the CLI, the settings and the role rules do not import the dashboard; and no two
modules import each other, directly or round a loop.

The graph is read from the source with `ast`, so imports inside functions count as much as those at the top, and
`from package import module` counts as importing `package.module`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The repository's own code: packages (folders) and top-level modules (files). tests/ is not part of the graph.
SOURCES = ("warehouse", "pipelines", "metrics", "shopkpi", "pages", "app.py", "bench")


@dataclass(frozen=True)
class Import:
    """One import statement's dependency: `importer` (in `path`, at `line`) needs `imported`."""

    importer: str
    imported: str  # a module of the repository, or the top-level name of a third-party package
    path: str  # relative to the root, for messages
    line: int
    statement: str  # the source text, for messages

    def __str__(self) -> str:
        return f"{self.path}:{self.line} `{self.statement}`"


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the repository under `root`, by dotted name (a package by its folder's name)."""
    modules: dict[str, Path] = {}
    for source in SOURCES:
        path = root / source
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            parts = list(file.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = file
    return modules


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    # `from metrics import registry` imports the module metrics.registry; `from metrics.registry import METRICS`
    # imports metrics.registry (METRICS is a name in it).
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


def _resolve(name: str, known: set[str]) -> str:
    """The most specific repository module `name` falls in, else its top-level name (a third-party package)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return parts[0]


def import_graph(root: Path = ROOT) -> list[Import]:
    """Every import of every module under `root`, at module level or inside functions, one entry per module named."""
    files = module_files(root)
    known = set(files)
    imports: list[Import] = []
    for module, file in files.items():
        text = file.read_text(encoding="utf-8")
        is_package = file.name == "__init__.py"
        for node in ast.walk(ast.parse(text, filename=str(file))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            statement = " ".join((ast.get_source_segment(text, node) or "").split())
            for name in dict.fromkeys(_imported_names(node, module, is_package, known)):
                imported = _resolve(name, known)
                if imported != module:
                    relative = file.relative_to(root).as_posix()
                    imports.append(Import(module, imported, relative, node.lineno, statement))
    return imports


def _in(module: str, *layers: str) -> bool:
    return any(module == layer or module.startswith(f"{layer}.") for layer in layers)


# (importers, what they must not import, why): each rule is one arrow of the picture at the top that must not exist.
RULES = [
    (
        ("warehouse",),
        ("pipelines", "metrics"),
        "the warehouse is the bottom layer: it imports neither pipelines nor metrics",
    ),
    (
        ("warehouse", "pipelines", "metrics"),
        ("shopkpi", "pages", "app", "bench"),
        "warehouse/, pipelines/ and metrics/ import nothing of shopkpi/ (settings included: they take paths and "
        "options as arguments), the dashboard or the benchmarks",
    ),
    (("pipelines",), ("metrics",), "pipelines load the warehouse and compute no KPI: they import warehouse/ only"),
    (
        ("metrics",),
        ("pipelines",),
        "metrics read the warehouse, not the code that loads it: they import warehouse/ only",
    ),
    (("warehouse", "pipelines", "metrics"), ("streamlit",), "only the dashboard imports Streamlit"),
    (
        ("shopkpi.reports", "shopkpi.cli", "shopkpi.settings", "shopkpi.auth"),
        ("shopkpi.ui", "pages", "app", "streamlit"),
        "the reports, the CLI, the settings and the role rules work without the dashboard: they import neither it "
        "nor Streamlit",
    ),
    (
        ("shopkpi.settings", "shopkpi.auth"),
        ("shopkpi.cli", "shopkpi.reports"),
        "the CLI and the reports read the settings and roles",
    ),
]


def layer_violations(imports: list[Import]) -> list[str]:
    """One line per import that runs against RULES: the file, the line, the statement and the rule it breaks."""
    return [
        f"{found} imports {found.imported}: {why}"
        for importers, forbidden, why in RULES
        for found in imports
        if _in(found.importer, *importers) and _in(found.imported, *forbidden)
    ]


def import_cycles(imports: list[Import]) -> list[str]:
    """One line per import cycle among the repository's modules: the modules round the loop and each import in it."""
    known = {found.importer for found in imports}
    edges: dict[str, dict[str, Import]] = {}
    for found in imports:
        if found.imported in known:
            edges.setdefault(found.importer, {}).setdefault(found.imported, found)
    # Tarjan's strongly connected components: each component of more than one module holds at least one cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(known):
        if module not in index:
            visit(module)
    return [_describe_cycle(component, edges) for component in components]


def _describe_cycle(component: list[str], edges: dict[str, dict[str, Import]]) -> str:
    # One concrete loop through the component's first module: a shortest path back to it.
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for target in sorted(edges.get(module, {})):
            if target == start:
                loop = paths[module] + [start]
                steps = "; ".join(str(edges[a][b]) for a, b in zip(loop, loop[1:], strict=False))
                return f"import cycle {' -> '.join(loop)} ({steps})"
            if target in members and target not in paths:
                paths[target] = paths[module] + [target]
                queue.append(target)
    raise AssertionError(f"no loop found in the component {component}")  # a component always has one


# --- the repository ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    return import_graph(ROOT)


def test_the_graph_sees_the_repository(graph):
    # A checker that read nothing would pass everything: the graph must hold the imports we know are there.
    modules = {found.importer for found in graph}
    assert {"warehouse.store", "metrics.registry", "pipelines.ingest", "shopkpi.cli.main", "app"} <= modules
    assert any(f.importer.startswith("metrics.") and f.imported.startswith("warehouse") for f in graph)
    assert any(f.importer == "app" and f.imported == "streamlit" for f in graph)


def test_imports_run_down_the_layers_only(graph):
    problems = layer_violations(graph)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_no_import_cycles(graph):
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(cycles)


# --- the checker itself, on a planted repository -------------------------------------------------------------------


PLANTED = {
    "warehouse/__init__.py": "",
    "warehouse/schema.py": "def tables():\n    from metrics import periods  # inside a function: counts too\n",
    "metrics/__init__.py": "",
    "metrics/periods.py": "",
    "metrics/registry.py": "from warehouse import schema\n",
    "metrics/targets.py": "from shopkpi.settings import load_settings\nimport streamlit as st\n",
    "metrics/a.py": "from . import b\n",
    "metrics/b.py": "import metrics.a\n",
    "pipelines/__init__.py": "",
    "pipelines/ingest.py": "from warehouse.schema import tables\nimport duckdb\n",
    "shopkpi/__init__.py": "",
    "shopkpi/settings.py": "",
    "shopkpi/auth.py": "import os\nfrom shopkpi.cli import common\n",
    "shopkpi/ui/__init__.py": "",
    "shopkpi/reports/__init__.py": "",
    "shopkpi/reports/content.py": "from shopkpi import ui\n",
    "shopkpi/cli/__init__.py": "from shopkpi.cli.main import main\n",
    "shopkpi/cli/main.py": "import pages.overview\nfrom shopkpi.cli import common\n",
    "shopkpi/cli/common.py": "",
    "pages/__init__.py": "",
    "pages/overview.py": "from metrics import registry\n",
    "app.py": "import streamlit as st\nfrom shopkpi import ui\n",
}


@pytest.fixture
def planted(tmp_path: Path) -> list[Import]:
    for name, text in PLANTED.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return import_graph(tmp_path)


def test_checker_reads_relative_function_level_and_from_imports(planted):
    found = {(f.importer, f.imported) for f in planted}
    assert ("warehouse.schema", "metrics.periods") in found  # inside a function; `from package import module`
    assert ("metrics.a", "metrics.b") in found  # relative `from . import b`
    assert ("pipelines.ingest", "warehouse.schema") in found  # `from module import name` is the module
    assert ("pipelines.ingest", "duckdb") in found  # third-party: its top-level name


def test_checker_names_file_line_and_import_of_each_layer_violation(planted):
    problems = layer_violations(planted)
    expected = [
        "warehouse/schema.py:2 `from metrics import periods` imports metrics.periods: the warehouse is the bottom",
        "metrics/targets.py:1 `from shopkpi.settings import load_settings` imports shopkpi.settings: warehouse/",
        "metrics/targets.py:2 `import streamlit as st` imports streamlit: only the dashboard",
        "shopkpi/reports/content.py:1 `from shopkpi import ui` imports shopkpi.ui: the reports, the CLI",
        "shopkpi/cli/main.py:1 `import pages.overview` imports pages.overview: the reports, the CLI",
        "shopkpi/auth.py:2 `from shopkpi.cli import common` imports shopkpi.cli.common: the CLI and the reports read",
    ]
    for start in expected:
        assert sum(problem.startswith(start) for problem in problems) == 1, (start, problems)
    assert len(problems) == len(expected), problems  # nothing else: pages and app may import anything


def test_checker_reports_each_cycle_with_its_imports(planted):
    cycles = import_cycles(planted)
    assert cycles == [
        "import cycle metrics.a -> metrics.b -> metrics.a "
        "(metrics/a.py:1 `from . import b`; metrics/b.py:1 `import metrics.a`)"
    ]
    # shopkpi/cli/__init__.py imports shopkpi.cli.main, which imports shopkpi.cli.common: `from shopkpi.cli import
    # common` is an import of the module common, not of the package shopkpi.cli, so that is no loop.
    assert ("shopkpi.cli.main", "shopkpi.cli.common") in {(f.importer, f.imported) for f in planted}


def test_checker_finds_a_longer_cycle(tmp_path):
    for name, text in {
        "metrics/__init__.py": "",
        "metrics/x.py": "import metrics.y\n",
        "metrics/y.py": "def f():\n    from metrics import z\n",
        "metrics/z.py": "from metrics.x import something\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (cycle,) = import_cycles(import_graph(tmp_path))
    assert cycle.startswith("import cycle metrics.x -> metrics.y -> metrics.z -> metrics.x (metrics/x.py:1"), cycle
