"""docs/configuration.md lists every environment variable Bamboo reads, and so does
.env.example: a setting added without its line fails here."""

import ast
import re
from pathlib import Path

from bamboo_assets.settings import variable_names
from bamboo_assets_tests.support.dagster_processes import REPO

DOC = REPO / "docs" / "configuration.md"


def documented(path: Path) -> set[str]:
    """Every `NAME` in backticks that looks like an environment variable (the notebook's
    spellings, like `DB_DSN_bamboo`, included)."""
    return set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Za-z0-9_]+)`", path.read_text()))


def read_by_the_code() -> set[str]:
    """Variables read by name anywhere in the package: the settings' declarations, and any
    os.environ[...] / os.environ.get(...) / os.getenv(...) with a literal name."""
    names = set(variable_names())
    for module in (REPO / "bamboo_assets").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            literal = None
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                literal = node.slice
            elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "os.environ.get",
                "os.getenv",
            ):
                literal = node.args[0] if node.args else None
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                names.add(literal.value)
    return names


def test_every_variable_the_code_reads_is_documented() -> None:
    missing = read_by_the_code() - documented(DOC)
    assert not missing, f"add these to docs/configuration.md: {sorted(missing)}"


def test_every_setting_appears_in_the_env_example() -> None:
    example = (REPO / ".env.example").read_text()
    missing = [name for name in variable_names() if name not in example]
    assert not missing, f"add these to .env.example: {missing}"


def test_the_scan_finds_a_variable_read_outside_the_settings(tmp_path: Path) -> None:
    """The scan itself: a literal read is found (so a new one cannot slip past the first test)."""
    code = "import os\nA = os.environ['BAMBOO_NEW']\nB = os.getenv('BAMBOO_OTHER')\n"
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            found.add(node.slice.value)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "os.getenv":
            found.add(node.args[0].value)
    assert found == {"BAMBOO_NEW", "BAMBOO_OTHER"}
