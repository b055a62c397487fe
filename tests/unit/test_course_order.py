"""The course's order is said once (``workbook.course.notebooks.COURSE``): the notebooks on disk,
notebook 00's table and ``notebooks/README.md``'s table all follow it."""

import json

from workbook.course.notebooks import COURSE, NOTEBOOKS, course_notebooks, course_table, minutes


def test_every_notebook_is_in_the_course_order_once_and_in_file_order():
    on_disk = [path.stem for path in course_notebooks()]
    assert [lesson.stem for lesson in COURSE] == on_disk, \
        "COURSE in workbook/course/notebooks.py lists every notebook in notebooks/, in file-name order"


def test_every_numbered_notebook_states_its_time():
    silent = [lesson.stem for lesson in COURSE
              if lesson.stem[:2].isdigit() and minutes(NOTEBOOKS / f"{lesson.stem}.ipynb") is None]
    assert not silent, f"these notebooks lack a '**Time:** about N minutes' line in their first cell: {silent}"


def test_the_readme_table_is_the_generated_one():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    assert course_table() in readme, ("notebooks/README.md's table differs from the course order: paste "
                                      "the output of `python -m workbook.course.notebooks` over it")


def test_notebook_00_renders_the_table_instead_of_keeping_a_copy():
    cells = json.loads((NOTEBOOKS / "00_start_here.ipynb").read_text(encoding="utf-8"))["cells"]
    code = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    prose = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    assert "course_table(" in code, "notebook 00 shows the course's table rendered from COURSE"
    assert "| # | notebook |" not in prose, "notebook 00 keeps no typed copy of the table that could drift"


def test_the_core_path_meets_every_objective():
    core = {lesson.stem[:2] for lesson in COURSE if lesson.core}
    # The module's objectives and the notebooks that teach them (00's opening paragraph).
    objectives = {"call a cloud API": {"01", "02"}, "host a model yourself": {"03", "12"},
                  "one provider abstraction": {"04"}, "switch providers by configuration": {"05"},
                  "decide API vs self-hosted": {"07"}, "decide on fine-tuning": {"08"},
                  "write a provider of your own": {"09", "10", "12"}}
    unmet = [goal for goal, where in objectives.items() if not where & core]
    assert not unmet, f"no core notebook teaches: {unmet}"
