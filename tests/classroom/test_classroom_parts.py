"""The classroom's pieces that need no hub: usage kept across a restart, the course copy."""

from __future__ import annotations

import json
from pathlib import Path

from workbook.classroom.course import copy_into, with_backend
from workbook.classroom.usage import UsageStore

ROOT = Path(__file__).resolve().parents[2]


def test_usage_survives_reopening_the_file(tmp_path):
    store = UsageStore(tmp_path / "usage.sqlite")
    store.record("student1", input_tokens=12, output_tokens=30, seconds=0.5)
    store.record("student1", input_tokens=8, output_tokens=10, seconds=0.25)
    store.refused("student2")
    store.close()

    reopened = UsageStore(tmp_path / "usage.sqlite").totals()
    assert reopened["student1"] == {"requests": 2, "input_tokens": 20, "output_tokens": 40,
                                    "seconds": 0.75, "refused": 0}
    assert reopened["student2"]["requests"] == 0 and reopened["student2"]["refused"] == 1


def test_course_copy_sets_live_backend_keeps_student_work_and_leaves_solutions(tmp_path):
    course = ROOT / "notebooks"
    home = tmp_path / "student1"
    copied = copy_into(home, course)
    names = {path.relative_to(home / "notebooks").as_posix() for path in copied}
    assert "00_start_here.ipynb" in names
    assert not any(name.startswith("solutions/") for name in names), "solutions stay with the instructor"

    start = json.loads((home / "notebooks" / "00_start_here.ipynb").read_text())
    parameters = next(cell for cell in start["cells"] if "parameters" in cell["metadata"].get("tags", []))
    assert 'BACKEND = "live"' in "".join(parameters["source"])

    # A student's edit survives the next server start; a file they deleted comes back.
    mine = home / "notebooks" / "00_start_here.ipynb"
    mine.write_text('{"my": "work"}')
    (home / "notebooks" / "00a_asyncio_primer.ipynb").unlink()
    again = copy_into(home, course)
    assert [path.name for path in again] == ["00a_asyncio_primer.ipynb"]
    assert mine.read_text() == '{"my": "work"}'


def test_with_backend_changes_only_the_parameters_cell():
    notebook = {"cells": [
        {"cell_type": "code", "metadata": {}, "source": ['BACKEND = "mock"\n']},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]},
         "source": ["# comment\n", 'BACKEND = "local"\n', "X = 1\n"]},
    ]}
    changed = with_backend(notebook)
    assert changed["cells"][0]["source"] == ['BACKEND = "mock"\n']
    source = "".join(changed["cells"][1]["source"])
    assert source.startswith("# comment\nBACKEND = \"live\"") and source.endswith("X = 1\n")
