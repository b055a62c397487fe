"""Names and addresses that changed: the course uses today's (checked 2026-12-01).

Each entry: what is stale, what replaced it. A line may still name the old one to say it is the
former name ("formerly Azure AI Foundry") or a stub ("the old docs/api.md ... is now a stub").
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RENAMED = {
    "Azure AI Foundry": "Microsoft Foundry",  # Microsoft renamed the portal and service in 2025
    "github.com/ollama/ollama/blob/main/docs/api.md": "https://docs.ollama.com/api",  # a stub since Oct 2025
}
EXPLAINED = ("formerly", "now a stub")


def course_files() -> list[Path]:
    files = [*(ROOT / "workbook").rglob("*.py"), *(ROOT / "notebooks").rglob("*.ipynb"),
             *(ROOT / "exercises").rglob("*.ipynb"), ROOT / "README.md"]
    return sorted(p for p in files if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("stale,current", RENAMED.items(), ids=list(RENAMED))
def test_the_course_uses_current_names(stale, current):
    found = [f"{path.relative_to(ROOT)}:{number}"
             for path in course_files()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if stale in line and not any(word in line for word in EXPLAINED)]
    assert not found, f"{stale!r} is stale; say {current!r} instead:\n  " + "\n  ".join(found)
