"""Fixtures for the data tests: load a tools/*.py script as a module to call its main()."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture
def load_tool() -> Callable[[str], ModuleType]:
    """load_tool("check_data") -> the module tools/check_data.py (in-process, fast)."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"_tool_{name}", TOOLS / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
