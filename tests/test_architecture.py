"""The package's layers hold: each package imports only the layers below it, Ray stays in the executor,
the executor knows nothing of what it runs, and stage unit tests run without Ray."""

import ast
import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "factory"

# what each package may import from the factory; cli and runner sit on top and may import anything
ALLOWED = {
    "errors": set(), "redact": set(), "log": set(), "serving": set(),
    # the demo ships the ChatML template its student trains with, so its lengths are counted with that one
    "demo": {"train"},
    "store": {"errors"},
    "config": {"errors", "redact", "store"},
    "verify": {"config"},
    "simteacher": {"config", "serving"},
    "executor": {"config", "errors", "log"},
    "teacher": {"config", "errors", "executor", "log", "redact", "simteacher"},
    "meter": {"config", "redact", "store", "teacher"},
    "stages.sources": {"config", "errors", "store"},
    "stages.generate": {"config", "errors", "executor", "log", "meter", "store", "teacher"},
    "stages.judge": {"config", "errors", "executor", "meter", "store", "verify"},
    "stages.publish": {"config", "errors", "store"},
    "report": {"config", "errors", "meter", "stages.judge", "store"},
    # `factory publish` and `factory check`: a published run copied elsewhere and verified there
    "publish_remote": {"errors", "stages.publish", "store"},
    # the consumers of published runs: training (above the stages it reads) and evaluation (which reuses them)
    "train": {"config", "errors", "log", "stages.generate", "stages.judge", "store", "verify"},
    # evaluation asks and judges as a run does (the runner's ask_and_judge), then scores
    "eval": {"config", "errors", "executor", "log", "runner", "serving", "stages.generate", "stages.judge",
             "stages.sources", "store", "teacher"},
}


def _layer(parts: tuple[str, ...]) -> str:
    """The package a module belongs to: its top-level one, or the stage's own for factory/stages/*/."""
    if parts[0] == "stages" and len(parts) >= 2 and parts[1] != "__init__":
        return f"stages.{parts[1]}"
    return parts[0]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):  # function-level imports count too
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.relative_to(PACKAGE).with_suffix("").parts


def _package_graph() -> dict[str, set[str]]:
    found = defaultdict(set)
    for path, parts in _modules():
        layer = _layer(parts)
        for name in _imports(path):
            if name.startswith("factory."):
                other = _layer(tuple(name.split(".")[1:]))
                if other != layer:
                    found[layer].add(other)
    return found


def test_the_packages_form_layers_with_no_cycle():
    """Every package can be put below the ones that import it: a topological order exists."""
    graph, order = _package_graph(), []
    remaining = set(graph) | {d for deps in graph.values() for d in deps}
    while remaining:
        ready = sorted(p for p in remaining if not (graph.get(p, set()) & remaining))
        assert ready, f"import cycle among {sorted(remaining)}"
        order += ready
        remaining -= set(ready)
    assert order.index("executor") < order.index("teacher") < order.index("meter") < order.index("stages.generate")


def test_every_package_imports_only_the_layers_below_it():
    found = _package_graph()
    assert set(found) - {"cli", "runner"} <= set(ALLOWED), "a new package: give it a row in ALLOWED"
    wrong = {layer: sorted(deps - ALLOWED[layer]) for layer, deps in found.items()
             if layer in ALLOWED and deps - ALLOWED[layer]}
    assert wrong == {}


def test_only_the_executor_imports_ray():
    # the executor package, not one module: the run's own teacher servers (teacher.serve) are Ray actors with
    # placement groups (serve_replicas.py) beside the stage executor (ray_cluster.py); the rest of the factory
    # reaches Ray only through them, and imports them only when it runs on Ray
    importers = [str(path.relative_to(ROOT)) for path, _ in _modules()
                 if any(n == "ray" or n.startswith("ray.") for n in _imports(path))]
    assert importers and all(p.startswith("factory/executor/") for p in importers), importers
    assert "factory/executor/__init__.py" not in importers and "factory/executor/server_process.py" not in importers


def test_the_executor_imports_nothing_of_what_it_runs():
    for path, parts in _modules():
        if parts[0] == "executor":
            factory_imports = {n for n in _imports(path) if n.startswith("factory")}
            assert factory_imports <= {"factory", "factory.config", "factory.errors", "factory.log",
                                       "factory.executor.base", "factory.executor.dispatch",
                                       "factory.executor.guard",
                                       "factory.executor.in_process", "factory.executor.ray_cluster",
                                       "factory.executor.server_process"}, path
    # nor does anything it imports, all the way down
    code = ("import sys, factory.executor.ray_cluster as _; "
            "print(sorted(m for m in sys.modules if m.startswith(('factory.teacher', 'factory.verify', "
            "'factory.stages', 'openai'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.timeout(600)
def test_stage_unit_tests_run_without_ray(tmp_path):
    """The stage tests again, in a process where `import ray` fails: they use the in-process executor."""
    blocker = tmp_path / "ray"
    blocker.mkdir()
    (blocker / "__init__.py").write_text(textwrap.dedent("""\
        raise ImportError("stage unit tests must not import Ray: use factory.executor.InProcessExecutor")
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/stages"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=570)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout
    # nothing may skip for want of Ray; only the opt-in tests on ../shared/data skip where it is absent
    skips = [line for line in out.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all("shared" in line for line in skips), skips
    assert out.stdout.splitlines()[-1].count("skipped") == (1 if skips else 0)


def test_every_package_has_an_init_so_a_wheel_carries_it():
    """setuptools' package discovery (pyproject: include factory*) finds only folders with __init__.py."""
    folders = [p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"]
    assert [str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file()] == []
