"""The files that prime an AI coding assistant and shape a pull request stay true to the repo:
every path they name exists, the commands they give are Makefile targets, and the PR template
carries the module's four items. (Kept beside the checker: exercise 09 teaches them.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ["CLAUDE.md", "AGENTS.md", ".claude/commands/prime-context.md"]
# `workbook/ai/registry.py`, `providers/openai.py:OpenAIProvider`, `.github/...md`: a path in code
# quotes; placeholders (<name>) and globs are not paths to check.
PATH = re.compile(r"`([\w./-]+\.(?:py|md|json|ipynb))(?::\w+)?`")
GENERATED = {"pr_evidence.md"}  # written by the exercises, git-ignored
# A short name (`openai.py`) is read relative to the folder the text is talking about.
FOLDERS = [ROOT, ROOT / "workbook/ai", ROOT / "workbook/ai/providers"]


@pytest.mark.parametrize("name", GUIDES)
def test_every_path_a_guide_names_exists(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    paths = PATH.findall(text)
    missing = [p for p in paths
               if p not in GENERATED and not any((folder / p).exists() for folder in FOLDERS)]
    assert not missing, f"{name} names files that do not exist: {missing}"


def test_the_guide_gives_the_two_commands_and_the_registry():
    guide = (ROOT / "CLAUDE.md").read_text(encoding="utf-8")
    targets = re.findall(r"^(\w+):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    for command in ("lab", "test"):
        assert f"make {command}" in guide and command in targets
    assert "workbook/ai/registry.py" in guide and "register_provider" in guide


def test_other_assistants_and_the_command_are_pointed_to_the_guide():
    assert "CLAUDE.md" in (ROOT / "AGENTS.md").read_text(encoding="utf-8")
    command = (ROOT / ".claude/commands/prime-context.md").read_text(encoding="utf-8")
    assert command.startswith("---\ndescription: ") and "CLAUDE.md" in command


def test_the_pull_request_template_carries_the_modules_four_items():
    template = (ROOT / ".github/pull_request_template.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", template, re.M)
    assert headings == ["Provider", "Configuration", "Screenshots or logs", "Challenges"]
