"""The course's order is said once (``workbook.course.notebooks.COURSE``): the notebooks on disk,
notebook 00's table and ``notebooks/README.md``'s table all follow it."""

import json

from workbook.course.notebooks import (COURSE, CORE_BUDGET_MINUTES, NOTEBOOKS, OBJECTIVES, core_minutes,
                                       core_minutes_of, course_notebooks, course_table, minutes)


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
    core = {lesson.stem.split("_")[0] for lesson in COURSE if lesson.core}
    unmet = [goal for goal, where in OBJECTIVES.items() if not set(where) & core]
    assert not unmet, f"no core notebook teaches: {unmet}"


def test_the_core_path_fits_in_four_hours():
    spent = {lesson.stem: core_minutes_of(NOTEBOOKS / f"{lesson.stem}.ipynb") for lesson in COURSE if lesson.core}
    assert core_minutes() <= CORE_BUDGET_MINUTES, (
        f"the core path takes {core_minutes()} minutes, over the {CORE_BUDGET_MINUTES} promised: {spent}; "
        "mark sections optional (with their minutes, and 'N on the core path' in the Time line) or "
        "move a notebook off the core path where OBJECTIVES is still met")


def test_a_notebooks_core_part_is_read_from_its_time_line(tmp_path):
    def notebook(name, time_line):
        path = tmp_path / name
        path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": [time_line]}]}))
        return path

    split = notebook("a.ipynb", "**Time:** about 40 minutes: 25 on the core path, 15 more for the optional sections.")
    whole = notebook("b.ipynb", "**Time:** about 30 minutes")
    assert (minutes(split), core_minutes_of(split)) == (40, 25), "a split Time line gives both figures"
    assert (minutes(whole), core_minutes_of(whole)) == (30, 30), "without a split, the core path takes it all"
