"""ruff, the import-linter layer contracts (docs/architecture.md) and mypy are part of the test suite."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: install the test extra (pip install -e '.[test]')")
    return found


def test_ruff() -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_contracts() -> None:
    result = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_type_hints() -> None:
    """mypy over the product code (settings in pyproject.toml, ``[tool.mypy]``)."""
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_assistant_is_sorted_by_kind_and_the_map_says_so() -> None:
    """The root of assistant/ holds shared modules only (errors); every folder is on the map."""
    assistant = ROOT / "assistant"
    root_modules = sorted(p.name for p in assistant.glob("*.py") if p.name != "__init__.py")
    assert len(root_modules) <= 3, f"modules at the root of assistant/: {root_modules}; put each in its kind's folder"
    folders = sorted(p.name for p in assistant.iterdir() if (p / "__init__.py").exists())
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    map_section = architecture.split("## The map", 1)[1].split("\n## ", 1)[0]
    missing = [f for f in folders if f"  {f}/" not in map_section]
    assert not missing, f"docs/architecture.md's map does not describe assistant/{missing}"
    layers = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    unlayered = [f for f in folders if f'"{f}"' not in layers and f'"{f} |' not in layers and f'| {f}"' not in layers]
    assert not unlayered, f"assistant/{unlayered} is in no layer of the import-linter contract"


def test_the_customer_walk_names_each_file_once_and_each_exists() -> None:
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    walk = architecture.split("## A `/customer 12748` request, file by file", 1)[1].split("\n## ", 1)[0]
    files = re.findall(r"\b((?:assistant|db|analytics)/[\w/]+\.py)", walk)
    assert len(files) >= 10
    assert len(files) == len(set(files)), "a file is named twice in the /customer walk"
    assert all((ROOT / f).exists() for f in files), [f for f in files if not (ROOT / f).exists()]
