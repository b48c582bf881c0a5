"""The README fits on a screen or two, every link between the documents leads somewhere, and
nothing points at an issue tracker or a document outside the repository."""

import re
import subprocess
from pathlib import Path

import pytest

from bamboo_assets_tests.support.dagster_processes import REPO

README = REPO / "README.md"
TEXT = (".md", ".py", ".yaml", ".yml", ".toml", ".sh", ".txt", ".example")


def tracked_files() -> list:
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO / name for name in listed if (REPO / name).exists()]


def test_the_readme_is_at_most_150_lines() -> None:
    assert len(README.read_text().splitlines()) <= 150


@pytest.mark.parametrize(
    "markdown", sorted(p for p in (REPO / "docs").glob("*.md")) + [README, REPO / "CHANGELOG.md"]
)
def test_every_relative_link_leads_to_a_file(markdown) -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", markdown.read_text())
    broken = [
        target
        for target in targets
        if "://" not in target and not (markdown.parent / target).exists()
    ]
    assert not broken, f"{markdown.name} links to missing files: {broken}"


def test_nothing_refers_to_an_issue_number_or_to_notes_outside_the_repository() -> None:
    pattern = re.compile(r"\bissues? \d+|\(issue|issue-\d+|field[ -]notes", re.IGNORECASE)
    offending = [
        f"{path.relative_to(REPO)}:{number}"
        for path in tracked_files()
        if (path.suffix in TEXT or path.name in ("Dockerfile", "Makefile"))
        and path != Path(__file__)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offending, offending


def test_every_test_module_the_documents_name_exists() -> None:
    """Docs cite tests as evidence ("`pipeline/test_secrets.py`"); a renamed module must not
    leave a citation of nothing behind."""
    modules = {path.relative_to(REPO).as_posix() for path in tracked_files()}
    documents = [*(REPO / "docs").glob("*.md"), README, *(REPO / "deploy").rglob("*.yaml")]
    missing = [
        f"{document.relative_to(REPO)}: {cited}"
        for document in documents
        for cited in re.findall(r"[\w/]*test_\w+\.py", document.read_text())
        if not any(module.endswith(cited) for module in modules)
    ]
    assert not missing, missing
