"""The engine's folders are its architecture: each imports only the folders below it, and no module imports itself
back through others (README, "The engine's architecture")."""

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

LAYERS = ["core", "storage", "search", "workers", "outcome", "run", "bridge", "dashboard", "cli"]
"""localsweep's folders, lowest first: a folder may import its own modules and those of the folders before it."""
PACKAGES = {
    "contract": set(),
    "trainer": {"contract", "localsweep"},  # localsweep.core.runlog only: see TRAINER_READS
    "localsweep": {"contract"},
    "analysis": {"contract", "localsweep", "trainer"},  # trainer.data: the test images of the gallery
}
"""What each top-level package may import of the others."""
READER_MODULES = {"localsweep.storage.view", "localsweep.core", "localsweep.bridge.server"}
"""What the analysis package may import of the engine: the read-only view of a sweep, its plain values, and the
bounded questions to W&B's server (the online report asks the server as ``sync`` does)."""
TRAINER_READS = {"localsweep.core.runlog"}
"""What the trainer may import of the engine: the reader of wandb's run record, for ``python -m trainer --rerun
RUN_DIR``, which repeats a run from its record. Offline, wandb keeps a run's config, summary and history only in its
``.wandb`` log (protobuf records, so not stdlib and not for ``contract``); that format is read in one place, a leaf
module that imports nothing else of localsweep, so the trainer reuses it rather than keep a second reader."""
DASHBOARD_READS = {
    "localsweep.storage.view",
    "localsweep.storage.cache",
    "localsweep.storage.lease",
    "localsweep.core",
    "localsweep.search.custom.space",
}
"""What the dashboard may import of the engine below it: the read-only view of a sweep (and the cache and liveness
rule the view's readers share), its plain values, and the search space the parameter importance is measured on."""


def imports(path: Path) -> set[str]:
    """The first-party modules ``path`` imports (``from a.b import c`` counts as ``a.b.c`` when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if module_path(candidate) is not None else node.module)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def module_path(name: str) -> Path | None:
    base = REPO_ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def modules(package: str) -> dict[str, Path]:
    root = REPO_ROOT / package
    return {
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted(root.rglob("*.py"))
    }


def test_each_engine_folder_imports_only_the_folders_below_it():
    upward = []
    for name, path in modules("localsweep").items():
        parts = name.split(".")
        if len(parts) < 3 or parts[1] not in LAYERS:
            continue  # localsweep/__main__.py and the package itself sit on top
        level = LAYERS.index(parts[1])
        for target in imports(path):
            target_parts = target.split(".")
            below = len(target_parts) > 1 and target_parts[1] in LAYERS and LAYERS.index(target_parts[1]) <= level
            if target_parts[0] == "localsweep" and len(target_parts) > 1 and target_parts[1] in LAYERS and not below:
                upward.append(f"{name} imports {target}")
    assert upward == []


def test_packages_import_only_what_they_may_and_the_report_reads_sweeps_through_the_view():
    wrong = []
    for package, allowed in PACKAGES.items():
        for name, path in modules(package).items():
            for target in imports(path):
                top = target.split(".")[0]
                if top != package and top not in allowed:
                    wrong.append(f"{name} imports {target}")
                reads = any(target == m or target.startswith(m + ".") for m in READER_MODULES)
                if package == "analysis" and top == "localsweep" and not reads:
                    wrong.append(f"{name} imports {target}: the report reads a sweep through SweepView")
                if package == "trainer" and top == "localsweep" and target not in TRAINER_READS:
                    wrong.append(f"{name} imports {target}: the trainer may read a run record, nothing else")
    for name in TRAINER_READS:  # a leaf: the trainer gets the reader and nothing of the engine behind it
        leaf = module_path(name)
        wrong += [f"{name} imports {t}" for t in imports(leaf) if t.startswith("localsweep")] if leaf else [name]
    assert wrong == []


def test_no_import_cycle():
    graph = {}
    for package in PACKAGES:
        for name, path in modules(package).items():
            graph[name] = {t for t in imports(path) if t in graph or module_path(t) is not None}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, set())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif state.get(nxt) is None:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_class_of_the_engine_is_over_200_lines():
    long = []
    for name, path in modules("localsweep").items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno + 1 > 200:
                long.append(f"{name}.{node.name}: {(node.end_lineno or 0) - node.lineno + 1} lines")
    assert long == []


def test_the_dashboard_reads_sweeps_through_the_view_and_never_writes():
    wrong = []
    for name, path in modules("localsweep").items():
        if not name.startswith("localsweep.dashboard"):
            continue
        for target in imports(path):
            allowed = any(target == m or target.startswith(m + ".") for m in DASHBOARD_READS)
            if target.startswith("localsweep.") and not target.startswith("localsweep.dashboard") and not allowed:
                wrong.append(f"{name} imports {target}")
    assert wrong == []
