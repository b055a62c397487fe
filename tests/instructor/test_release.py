"""``make release``: the committed exercise notebooks are what nbgrader generates from the source."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from workbook.instructor import release
from workbook.course.notebooks import NOTEBOOKS
from workbook.instructor.course import SOURCE, assignments


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    return out, release.generate(out)


def test_the_committed_notebooks_match_a_fresh_generation(generated):
    out, paths = generated
    differing = []
    for path in paths:
        committed = NOTEBOOKS / path.relative_to(out)
        if not committed.exists() or committed.read_text(encoding="utf-8") != path.read_text(encoding="utf-8"):
            differing.append(f"notebooks/{path.relative_to(out)}")
    assert not differing, ("these committed notebooks differ from what exercises/source generates: "
                           f"{', '.join(differing)}; run make release (and commit the result)")


def test_every_exercise_yields_a_student_notebook_and_a_solution(generated):
    out, paths = generated
    names = sorted(p.relative_to(out).as_posix() for p in paths)
    expected = sorted([f"{s}.ipynb" for s in assignments()] + [f"solutions/{s}_solution.ipynb" for s in assignments()])
    assert names == expected
    assert set(assignments()) == {"09_exercise_ollama_provider", "10_exercise_bedrock", "12_exercise_lmstudio"}


@pytest.mark.parametrize("stem", assignments())
def test_the_student_copy_has_stubs_no_solution_and_no_hidden_tests(generated, stem):
    out, _ = generated
    student = nbformat.read(out / f"{stem}.ipynb", as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    assert "# YOUR CODE HERE" in text
    source = nbformat.read(SOURCE / stem / f"{stem}.ipynb", as_version=4)
    hidden = [c.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].strip()
              for c in source.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert hidden, f"{stem}: the source has no hidden tests"
    for part in hidden:
        assert part.splitlines()[0] not in text


@pytest.mark.parametrize("stem", assignments())
def test_test_cells_carry_points_and_let_the_notebook_run_on(generated, stem):
    out, _ = generated
    student = nbformat.read(out / f"{stem}.ipynb", as_version=4)
    tests = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(tests) >= 4
    for cell in tests:
        assert cell.metadata.nbgrader["points"] > 0 and cell.metadata.nbgrader["locked"]
        assert "raises-exception" in cell.metadata.get("tags", []), cell.source
    # a solution region at the top level of a cell would stop a run there: only in tagged cells
    for cell in student.cells:
        if "raise NotImplementedError" in cell.source and not cell.source.startswith(("class ", "def ")):
            assert "raises-exception" in cell.metadata.get("tags", []), cell.source


@pytest.mark.parametrize("stem", assignments())
def test_the_solution_keeps_its_code_and_hidden_tests_and_says_it_is_the_solution(generated, stem):
    out, _ = generated
    solution = nbformat.read(out / "solutions" / f"{stem}_solution.ipynb", as_version=4)
    text = "\n".join(c.source for c in solution.cells)
    assert "### BEGIN SOLUTION" in text and "### BEGIN HIDDEN TESTS" in text
    assert "# YOUR CODE HERE" not in text
    assert solution.cells[0].source.splitlines()[0].endswith("— solution")
    assert solution.metadata.kernelspec.name == "python3"
    assert all(c.get("execution_count") is None and not c.get("outputs")
               for c in solution.cells if c.cell_type == "code")


def test_the_check_names_a_stale_copy(generated, tmp_path):
    out, _ = generated
    copy = tmp_path / "notebooks"
    shutil.copytree(out, copy)
    stale = copy / "solutions" / "10_exercise_bedrock_solution.ipynb"
    stale.write_text(stale.read_text(encoding="utf-8").replace("us-east-1", "eu-west-1"), encoding="utf-8")
    differing = release.stale(copy)
    assert len(differing) == 1 and differing[0].endswith("solutions/10_exercise_bedrock_solution.ipynb")
