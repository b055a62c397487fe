"""``python -m workbook release``: the student notebooks and solutions, generated from the source.

nbgrader does the work: ``generate_assignment`` (its ClearSolutions stubs the solution regions,
ClearHiddenTests drops the hidden tests, ComputeChecksums and the gradebook record the test cells
so ``autograde`` can restore them) writes ``notebooks/<stem>.ipynb``; ``GenerateSolution`` (without
executing) writes ``notebooks/solutions/<stem>_solution.ipynb``.

Solutions keep the hidden tests (the notebook tests run them against the solution) and nbgrader's
cell metadata (a solution is then a valid submission: an instructor can grade it to check the
points). Both copies are then put in the repository's notebook form: outputs and execution
counts cleared, kernelspec ``python3``; the solution's opening says it is one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat

from ..course.notebooks import NOTEBOOKS, ROOT, solution_path
from .course import assignments, check, copy_source, course_api, load_config

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def generate(out: Path = NOTEBOOKS) -> list[Path]:
    """Write every exercise's student notebook into ``out`` and its solution into
    ``out/solutions``; return the paths written."""
    from nbgrader.converters import GenerateSolution
    from nbgrader.utils import capture_log, temp_attrs

    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="workbook-release-") as tmp:
        root = Path(tmp)
        copy_source(root)
        api = course_api(root, load_config())
        for stem in assignments():
            check(api.generate_assignment(stem), f"generate the student notebook of {stem}")
            with temp_attrs(api.coursedir, assignment_id=stem):
                check(capture_log(GenerateSolution(coursedir=api.coursedir, parent=api)),
                      f"generate the solution of {stem}")
            student = _tidy(nbformat.read(root / "release" / stem / f"{stem}.ipynb", as_version=4))
            solution = _tidy(nbformat.read(root / "solution" / stem / f"{stem}.ipynb", as_version=4))
            _mark_as_solution(solution)
            written.append(_write(student, out / f"{stem}.ipynb"))
            written.append(_write(solution, solution_path(out / f"{stem}.ipynb")))
    return written


def _tidy(nb):
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


SOLUTION_NOTE = ("*This is the reference solution: the code between `### BEGIN SOLUTION` and\n"
                 "`### END SOLUTION` is what the exercise asks you to write.*")


def _mark_as_solution(nb) -> None:
    """The heading says "— solution", and the opening ends with a line saying what the
    solution regions are."""
    first = nb.cells[0]
    lines = first.source.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("# "):
            lines[index] = line.rstrip() + " — solution"
            break
    first.source = "\n".join(lines).rstrip("\n") + "\n\n" + SOLUTION_NOTE


def _write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


def stale(committed: Path = NOTEBOOKS) -> list[str]:
    """The generated notebooks whose committed copy differs from a fresh generation (or is
    missing), as paths relative to the repository."""
    with tempfile.TemporaryDirectory(prefix="workbook-release-check-") as tmp:
        fresh = Path(tmp)
        differing = []
        for path in generate(fresh):
            copy = committed / path.relative_to(fresh)
            if not copy.exists() or copy.read_text(encoding="utf-8") != path.read_text(encoding="utf-8"):
                differing.append(str(copy.relative_to(ROOT) if copy.is_relative_to(ROOT) else copy))
        return differing


def main(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=(
        "Generate the student notebooks (notebooks/<stem>.ipynb) and solutions "
        "(notebooks/solutions/<stem>_solution.ipynb) from exercises/source with nbgrader."))
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming every committed copy that differs")
    args = parser.parse_args(argv)
    if args.check:
        differing = stale()
        for path in differing:
            print(f"{path} differs from exercises/source: run make release", file=sys.stderr)
        return 1 if differing else 0
    for path in generate():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0
