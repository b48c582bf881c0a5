"""Every module of the package imports on its own, as the first thing a process imports: a
test, a script, a benchmark or a code location may start from any of them."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import bamboo_assets

ROOT = Path(bamboo_assets.__file__).parent
# The Dagster assets and the definitions load the whole package (and take seconds each); the
# modules below are the ones imported directly by tests, scripts and benchmarks.
MODULES = sorted(
    ".".join(("bamboo_assets", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(
        ".__init__"
    )
    for path in ROOT.rglob("*.py")
    if not {"migrations", "assets"} & set(path.relative_to(ROOT).parts[:-1])
    and path.stem not in ("definitions", "sensors", "schedule")
)


def _ours(name: str) -> bool:
    return name == "bamboo_assets" or name.startswith("bamboo_assets.")


@pytest.mark.parametrize("module", MODULES)
def test_the_module_imports_first_without_a_cycle(module: str) -> None:
    saved = {name: loaded for name, loaded in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    try:
        importlib.import_module(module)
    finally:
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
