"""``python -m workbook grade``: one small class of exercise 09, graded once (module fixture).

The class: the solution (full points), the untouched student notebook (0, feedback naming
every failed check), a half-done one (only ``chat`` written: partial points), and three broken
ones that must get 0 with their reason while the others are still graded -- one hangs, one
raises before anything is defined, one tries to write outside its folder (and hides the error).
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import nbformat
import pytest

from workbook.instructor import grade as grading
from workbook.instructor.course import SOURCE

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "09_exercise_ollama_provider"
STUDENT_COPY = ROOT / "notebooks" / f"{EXERCISE}.ipynb"
SOLUTION = ROOT / "notebooks" / "solutions" / f"{EXERCISE}_solution.ipynb"
CELL_TIMEOUT_S = 20


def _class_cell(nb):
    return next(c for c in nb.cells if c.cell_type == "code" and "class OllamaProvider" in c.source)


def _method(source: str, name: str) -> str:
    """The text of ``async def <name>(`` up to the next method."""
    start = source.index(f"    async def {name}(")
    following = [m.start() for m in re.finditer(r"\n    (?:async )?def ", source) if m.start() > start]
    return source[start:following[0] + 1] if following else source[start:]


def half_done():
    """The student copy with only ``chat`` written (taken from the solution)."""
    nb = nbformat.read(STUDENT_COPY, as_version=4)
    solution = _class_cell(nbformat.read(SOLUTION, as_version=4)).source
    cell = _class_cell(nb)
    cell.source = cell.source.replace(_method(cell.source, "chat"), _method(solution, "chat"))
    assert "NotImplementedError" in _method(cell.source, "chat_stream")
    return nb


def with_cell_after_imports(source: str):
    nb = nbformat.read(SOLUTION, as_version=4)
    imports = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import httpx" in c.source)
    nb.cells.insert(imports + 1, nbformat.v4.new_code_cell(source))
    return nb


def raising():
    nb = nbformat.read(SOLUTION, as_version=4)
    cell = _class_cell(nb)
    cell.source = 'raise RuntimeError("a stray line left at the top")\n' + cell.source
    return nb


CLASS = {
    "ada": lambda: nbformat.read(SOLUTION, as_version=4),
    "bob": lambda: nbformat.read(STUDENT_COPY, as_version=4),
    "cem": half_done,
    "dan": lambda: with_cell_after_imports("import time\ntime.sleep(3600)"),
    "eve": raising,
    "fay": lambda: with_cell_after_imports(
        "try:\n    open('/tmp/../root/graded-escape', 'w').write('x')\nexcept OSError:\n    pass"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    for student, make in CLASS.items():
        (folder / student).mkdir()
        nbformat.write(make(), folder / student / f"{EXERCISE}.ipynb")
    (folder / "ada" / "notes.txt").write_text("not a notebook: ignored")
    grades = grading.grade_class(folder, cell_timeout_s=CELL_TIMEOUT_S, echo=lambda *_: None)
    return folder, {g.student: g for g in grades}


def rows(folder: Path) -> list[dict]:
    with (folder / "grades.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def feedback_text(folder: Path, student: str) -> str:
    return html.unescape((folder / student / "feedback" / f"{EXERCISE}.html").read_text(encoding="utf-8"))


def graded_check_names() -> list[str]:
    """Every check an autograded cell of the source requires (the visible part)."""
    nb = nbformat.read(SOURCE / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    names = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            for call in re.findall(r"require\((.*?)\)", visible, re.S):
                names += re.findall(r'"([^"]+)"', call)
    return names


def test_grades_csv_has_exactly_the_columns_and_one_row_per_submission(graded):
    folder, _ = graded
    with (folder / "grades.csv").open(encoding="utf-8") as f:
        assert f.readline().strip() == "student,exercise,points,max_points"
    assert sorted(r["student"] for r in rows(folder)) == sorted(CLASS)
    assert {r["exercise"] for r in rows(folder)} == {EXERCISE}
    assert {r["max_points"] for r in rows(folder)} == {"10"}


def test_the_solution_earns_full_points(graded):
    folder, grades = graded
    assert grades["ada"].points == grades["ada"].max_points == 10, grades["ada"].reasons
    assert not grades["ada"].zeroed


def test_the_untouched_student_copy_earns_0_with_feedback_on_every_check(graded):
    folder, grades = graded
    assert grades["bob"].points == 0 and not grades["bob"].zeroed
    text = feedback_text(folder, "bob")
    names = graded_check_names()
    assert len(names) >= 9
    # An untouched notebook's graded cell says in one line which checks wait for a TODO; the
    # checker's table above it carries each row's hint.
    not_yet = [line for line in text.splitlines() if "✗ Not passed yet:" in line and "not implemented yet" in line]
    missing = [name for name in names if not any(name in line for line in not_yet)]
    assert not missing, f"the feedback does not name these failed checks: {missing}"
    assert "Write the TODO in `chat`" in text, "the checker's table in the feedback hints which TODO each row waits for"


def test_a_half_done_notebook_earns_partial_points(graded):
    _, grades = graded
    assert 0 < grades["cem"].points < grades["cem"].max_points, grades["cem"]
    assert grades["cem"].points == 3  # round trip (2) and usage (1): what chat alone passes


def test_a_hanging_notebook_is_stopped_and_graded_0_with_the_reason(graded):
    folder, grades = graded
    dan = grades["dan"]
    assert dan.zeroed and dan.points == 0
    assert any(f"ran longer than {CELL_TIMEOUT_S} s" in reason for reason in dan.reasons), dan.reasons
    assert f"ran longer than {CELL_TIMEOUT_S} s" in feedback_text(folder, "dan")


def test_a_raising_notebook_is_graded_0_with_the_error(graded):
    folder, grades = graded
    eve = grades["eve"]
    assert eve.points == 0
    assert any("raised RuntimeError: a stray line left at the top" in r for r in eve.reasons), eve.reasons
    assert "a stray line left at the top" in (folder / "grading.log").read_text()


def test_a_notebook_writing_outside_its_folder_is_graded_0_even_when_it_hides_the_error(graded):
    folder, grades = graded
    fay = grades["fay"]
    assert fay.zeroed and fay.points == 0
    assert any("writing /root/graded-escape" in r for r in fay.reasons), fay.reasons
    assert not Path("/root/graded-escape").exists()
    assert "Graded 0" in feedback_text(folder, "fay")


def test_every_submission_has_a_feedback_page(graded):
    folder, _ = graded
    for student in CLASS:
        page = folder / student / "feedback" / f"{EXERCISE}.html"
        assert page.is_file() and "<html" in page.read_text(encoding="utf-8")[:2000].lower(), page


def test_the_grader_keeps_the_instructors_credentials_from_the_kernel(monkeypatch, tmp_path):
    from workbook.emulator import Emulator

    monkeypatch.setenv("AI__OPENAI_API_KEY", "sk-instructor-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "instructor-aws-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_instructor")
    with Emulator() as emulator:
        env = grading._kernel_env(emulator, "ollama", tmp_path, tmp_path / "tmp", tmp_path / "log")
    assert env["AI__OLLAMA_BASE_URL"] == emulator.url
    secrets = ("sk-instructor-secret", "instructor-aws-secret", "ghp_instructor")
    leaked = [name for name, value in env.items() if any(secret in value for secret in secrets)]
    assert not leaked, f"the kernel would inherit {leaked}"
    assert (Path(env["IPYTHONDIR"]) / "profile_default" / "startup" / "00-workbook-sandbox.py").exists()


def test_a_notebook_over_the_whole_notebook_bound_is_stopped_and_graded_0(tmp_path):
    (tmp_path / "gus").mkdir()
    nbformat.write(nbformat.read(SOLUTION, as_version=4), tmp_path / "gus" / f"{EXERCISE}.ipynb")
    # 0.5 s: far less than a kernel needs to start and run the solution (the worker starts with
    # nbgrader already imported), so the bound stops it mid-way on any machine.
    [gus] = grading.grade_class(tmp_path, notebook_timeout_s=0.5, echo=lambda *_: None)
    assert gus.zeroed and gus.points == 0 and gus.max_points == 10
    assert any("ran longer than 0.5 s" in reason for reason in gus.reasons), gus.reasons
    assert rows(tmp_path) == [{"student": "gus", "exercise": EXERCISE, "points": "0", "max_points": "10"}]
    assert "ran longer than 0.5 s" in feedback_text(tmp_path, "gus")
