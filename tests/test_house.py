"""The house rules, checked: the import layers, ruff, ruff format and mypy.

The layering is docs/architecture.md's table as an executable contract: each package may
import only the packages listed for it (and itself, and ``dlcli`` for ``__version__``).
Every import counts, the lazy ones inside functions too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dlcli"

# cli > workflows > {train, data, model_io, remote} > nn > errors; config sits under
# workflows; files (atomic writes) and tomlwriter are leaves anyone may use.
LEAVES = {"errors", "files", "tomlwriter"}
ALLOWED: dict[str, set[str]] = {
    "__main__": {"cli"},
    "cli": {"workflows", "config", "parallel", "errors"},
    "workflows": {"config", "train", "data", "model_io", "remote", "nn", "parallel", *LEAVES},
    # Choices come from the registries (nn) and the checksum modes (remote.settings).
    "config": {"nn", "remote.settings", *LEAVES},
    # The engine: nn, errors and the batch-source protocol, nothing else.
    "train": {"nn", "errors", "data.batches"},
    "data": {"nn", *LEAVES},
    "model_io": {"nn", *LEAVES},
    "remote": {*LEAVES},
    # The process group of a data-parallel job (mpi4py, lazily); train sees only a protocol.
    "parallel": {*LEAVES},
    "nn": {"errors"},
    "errors": set(),
    "files": set(),
    "tomlwriter": set(),
}


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every dlcli import in a module (relative ones resolved)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name == "dlcli" or name.startswith("dlcli.")]


def allowed(layer: str, target: str) -> bool:
    inner = target.split(".")[1:]
    if not inner:
        return True  # `from dlcli import __version__`
    if inner[0] == layer:
        return True
    rules = ALLOWED[layer]
    return inner[0] in rules or ".".join(inner[:2]) in rules


def violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        layer = layer_of(path)
        for line, target in imported(ast.parse(path.read_text(encoding="utf-8")), module):
            if not allowed(layer, target):
                bad.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {target}")
    return bad


def test_every_package_imports_only_the_layers_below_it() -> None:
    found = violations()
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_every_module_belongs_to_a_layer() -> None:
    layers = {layer_of(path) for path in PACKAGE.rglob("*.py") if path != PACKAGE / "__init__.py"}
    assert layers <= set(ALLOWED), layers - set(ALLOWED)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_ruff_check() -> None:
    result = run("ruff", "check", "--no-cache", "dlcli", "tests", "bench", "samples")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", "--no-cache", "dlcli", "tests", "bench", "samples")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy() -> None:
    # Configured in pyproject.toml: the whole package checked, nn/train/model_io/remote strict.
    result = run("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert result.returncode == 0, result.stdout + result.stderr
