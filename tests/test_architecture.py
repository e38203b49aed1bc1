"""The package's structure: no import cycles, dependencies pointing downwards, light imports."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "si_recsim"
# a subpackage may import only from itself and from the layers before its own
LAYERS = [
    {"version", "errors"},
    {"atomic", "jobs", "probes", "params", "resources", "h5_input"},
    {"physics"},
    {"library"},
    {"biophysics", "recording", "sonata"},
    {"io"},
    {"plotting"},
    {"cli"},
]
HEAVY = ("neuron", "LFPy", "libsonata", "morphio", "mpi4py", "matplotlib")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts).removesuffix(".__init__")] = path
    return modules


def _imports(path: Path, modules: dict) -> set[str]:
    """Every si_recsim module a module imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("si_recsim"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("si_recsim"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _subpackage(module: str) -> str:
    return module.split(".")[1] if "." in module else "si_recsim"


def _layer(subpackage: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if subpackage in layer)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (depth-first search), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_subpackage_has_a_layer():
    subpackages = {_subpackage(module) for module in _graph()} - {"si_recsim"}
    assert subpackages == set().union(*LAYERS)


def test_no_import_cycle_between_modules():
    assert _cycle(_graph()) is None


def test_subpackages_import_only_downwards():
    def allowed(module, target):
        source, destination = _subpackage(module), _subpackage(target)
        return source == destination or _layer(destination) < _layer(source)

    upward = sorted(f"{module} -> {target}" for module, targets in _graph().items() if module != "si_recsim"
                    for target in targets if target != "si_recsim" and not allowed(module, target))
    assert upward == []
    # the top-level package (the flat API) is imported by nobody inside the package
    assert [module for module, targets in _graph().items() if "si_recsim" in targets] == []


@pytest.mark.parametrize("layer_modules", ["si_recsim.recording", "si_recsim.library", "si_recsim.physics",
                                           "si_recsim.io", "si_recsim.params"])
def test_only_biophysics_imports_neuron_or_lfpy(layer_modules):
    for name, path in _modules().items():
        if not name.startswith(layer_modules):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(imported.split(".")[0] in ("neuron", "LFPy") for imported in names), name


def test_the_recording_engine_reaches_no_biophysics():
    graph, seen, todo = _graph(), set(), ["si_recsim.recording.extractors"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    assert not [module for module in seen if module.startswith(("si_recsim.biophysics", "si_recsim.sonata"))]


def test_importing_si_recsim_loads_no_heavy_dependency():
    code = ("import sys, si_recsim; print(' '.join(sorted({name.split('.')[0] for name in sys.modules} & "
            f"set({list(HEAVY)!r}))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
