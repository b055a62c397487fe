"""Where the course's notebooks are, their order, and where an exercise's solution is kept.

An exercise ``notebooks/<stem>.ipynb`` has its solution at
``notebooks/solutions/<stem>_solution.ipynb``: ``make release`` writes it there, the notebook
tests and the course site find it there.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """Numbered notebooks in file-name order (00, 00a, 01, …), then the unnumbered ones (the quiz)."""
    found = [p for p in folder.glob("*.ipynb") if not p.name.startswith(".")]
    return sorted(found, key=lambda p: (not p.name[:2].isdigit(), p.name))


def solution_path(exercise: Path) -> Path:
    return exercise.parent / "solutions" / f"{exercise.stem}_solution.ipynb"


def solution_of(notebook: Path) -> Path | None:
    """The solution of an exercise; ``None`` for any other notebook (a solution included)."""
    if notebook.parent.name == "solutions":
        return None
    candidate = solution_path(notebook)
    return candidate if candidate.exists() else None
