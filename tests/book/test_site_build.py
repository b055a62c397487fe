"""The course site's parts, on small inputs: the exercise pages, the widgets' static views, the
landing page, the staging of executed notebooks, and one real Sphinx build of a small course.

The whole course's site is built by ``make test`` and walked in a browser by
tests/browser/test_course_site.py; these tests say which part broke, in seconds.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import ipywidgets as w
import nbformat
import pytest

from workbook.book import build as book
from workbook.book.diagrams import mermaid_script
from workbook.course import quiz
from workbook.course.notebooks import course_notebooks
from workbook.widgets._common import snapshot_html, static_bundle


def notebook(*cells, backends=("mock",)) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "workbook": {"backends": list(backends)}})
    nb.cells = list(cells)
    return nb


def md(source: str):
    return nbformat.v4.new_markdown_cell(source)


def py(source: str, outputs=(), **metadata):
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def printed(text: str) -> dict:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


# -- the course, in order -----------------------------------------------------------------------------
def test_course_order_puts_numbered_notebooks_first(tmp_path):
    for name in ["quiz.ipynb", "10_b.ipynb", "00a_primer.ipynb", "00_start.ipynb", "09_a.ipynb", "06a_new.ipynb"]:
        (tmp_path / name).write_text("{}")
    ordered = [p.name for p in course_notebooks(tmp_path)]
    assert ordered == ["00_start.ipynb", "00a_primer.ipynb", "06a_new.ipynb", "09_a.ipynb", "10_b.ipynb",
                       "quiz.ipynb"]


# -- exercise pages -----------------------------------------------------------------------------------
TEST_CELL = {"nbgrader": {"grade": True, "solution": False, "grade_id": "checks", "points": 2}}


def exercise_pair():
    student = notebook(md("# 09 Exercise"), py("setup()"),
                       py("def chat():\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
                       py("report = check()"), py("check()", **TEST_CELL))
    solved = notebook(md("# 09 Exercise — solution"), py("setup()", [printed("ready\n")]),
                      py("def chat():\n    return 'hi'", [printed("defined\n")]),
                      py("report = check()", [printed("PASSED 14/14\n")]),
                      py("check()\n### BEGIN HIDDEN TESTS\ncheck_more()\n### END HIDDEN TESTS"))
    return student, solved


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def test_an_exercise_page_shows_the_students_code_and_folds_solutions_and_their_outputs():
    page = book.exercise_page(*exercise_pair())
    setup, stub, answer, checker, test = page.cells[1:]
    assert page.cells[0].source == "# 09 Exercise"                   # the student's text
    assert setup.outputs[0].text == "ready\n" and not tags(setup)    # before any solution: shown as it ran
    assert "YOUR CODE HERE" in stub.source and stub.outputs == []
    assert "return 'hi'" in answer.source and {"hide-cell", "solution"} <= set(tags(answer))
    assert answer.metadata["mystnb"]["code_prompt_show"] == "Solution"
    assert answer.outputs[0].text == "defined\n"                      # its output inside its fold
    assert checker.outputs[0].text == "PASSED 14/14\n"
    assert {"hide-output", "solution-output"} <= set(tags(checker)), "the checker's table is not folded"
    assert test.source == "check()", "a hidden test is on the page"
    assert not any(t.startswith("hide") for t in tags(test)), "a cell with no output needs no fold"


def test_nbgrader_marks_decide_which_cells_are_solutions():
    marked = py("x = 1", nbgrader={"solution": False, "grade": True, "grade_id": "t1", "points": 1})
    other = py("x = 1\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS")
    assert not book.is_solution_cell(marked, other)        # a test cell with hidden tests: no dropdown
    assert book.is_solution_cell(py("pass", nbgrader={"solution": True}), py("pass"))


def test_an_exercise_and_a_solution_out_of_step_are_refused():
    with pytest.raises(book.BookError, match="make release"):
        book.exercise_page(notebook(md("# 09"), py("a")), notebook(md("# 09")))


def test_a_run_that_stopped_on_an_error_is_not_published(tmp_path):
    source = tmp_path / "01_x.ipynb"
    nbformat.write(notebook(md("# 01 X"), py("1/0")), source)
    failed = notebook(md("# 01 X"), py("1/0"))
    failed.metadata["papermill"] = {"exception": True}
    nbformat.write(failed, tmp_path / "01_x-mock.ipynb")
    with pytest.raises(book.BookError, match="stopped on an error"):
        book.executed_copy(source, tmp_path)


# -- widgets without a kernel -------------------------------------------------------------------------
def widget_output(**data) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {book.WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}, **data}}


def test_a_widget_shows_its_static_view_a_progress_bar_its_last_line_and_others_a_note():
    with_view = book.static_output(widget_output(**{"text/html": "<b>static</b>", "text/plain": "VBox()"}))
    assert book.WIDGET_VIEW not in with_view["data"] and with_view["data"]["text/html"] == "<b>static</b>"
    bar = "compare: 100%|##########| 12/12 [00:01<00:00, 9.10call/s]"
    assert book.static_output(widget_output(**{"text/plain": bar}))["data"] == {"text/plain": bar}
    bare = book.static_output(widget_output(**{"text/plain": "HBox(children=(...))"}))
    assert bare["data"] == {"text/plain": book.WIDGET_NOTE}
    plain = {"output_type": "stream", "name": "stdout", "text": "hello"}
    assert book.static_output(plain) is plain


def test_the_quiz_static_view_has_every_question_option_and_explanation_folded():
    html = quiz.static_html()
    assert html.count("<details class='quiz-answer'>") == len(quiz.QUESTIONS)
    assert not re.search(r"<details[^>]*\sopen", html), "an answer is shown unfolded"
    for item in quiz.QUESTIONS:
        block = html[html.index(f"id='quiz-{item.id}'"):]
        block = block[:block.index("</details>")]
        for option in item.options:
            escaped = (option.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                       .replace('"', "&quot;").replace("'", "&#x27;"))
            assert escaped in block, f"{item.id}: an option is missing"
        assert f"The right answer: <b>{'ABCD'[item.answer_index]}</b>" in block, f"{item.id}: wrong answer letter"
    box, _, _ = quiz.quiz_widget()
    bundle = box._repr_mimebundle_()
    assert book.WIDGET_VIEW in bundle, "the live quiz lost its widget"
    assert quiz.static_html() in bundle["text/html"]
    text = bundle["text/plain"]
    assert all(item.prompt in text for item in quiz.QUESTIONS), "a question is missing from the text view"
    assert "The right answer" not in text and not any(o.feedback in text for item in quiz.QUESTIONS
                                                      for o in item.options), "the text view gives an answer away"


def test_a_widget_snapshot_shows_its_text_buttons_and_choice():
    tree = w.VBox([w.HTML("<b>Score</b>"), w.HBox([w.Button(description="Send"),
                   w.Dropdown(options=["mock", "local"], value="local", description="Provider")]),
                   w.Textarea(value="a <prompt>")])
    html = snapshot_html(tree)
    assert "<b>Score</b>" in html and "disabled>Send</button>" in html
    assert "Provider <b>local</b>" in html and "a &lt;prompt&gt;" in html
    bundle = static_bundle(tree)
    assert book.WIDGET_VIEW in bundle and html in bundle["text/html"]


# -- the landing page ---------------------------------------------------------------------------------
def test_the_landing_page_lists_the_course_in_order_with_its_time(tmp_path):
    # Real lessons of the course (workbook.course.notebooks.COURSE): one core, one optional.
    first = notebook(md("# 00 Start\n\n**Time:** about 20 minutes: 15 on the core path\n"))
    second = notebook(md("# 00a Primer\n\n**Time:** about 45 minutes (and more)\n"))
    quiz_nb = notebook(md("# Quiz"))
    paths = []
    for name, nb in (("00_start_here", first), ("00a_asyncio_primer", second), ("quiz", quiz_nb)):
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        paths.append(tmp_path / f"{name}.ipynb")
    text = book.landing_page(paths)
    assert book.PATH_MARKER not in text
    rows = [line for line in text.splitlines() if line.startswith("| [")]
    assert rows == ["| [00 Start](notebooks/00_start_here.ipynb) | notebook | core | about 20 min (15 on the core path) |",
                    "| [00a Primer](notebooks/00a_asyncio_primer.ipynb) | notebook | optional | about 45 min |",
                    "| [Quiz](notebooks/quiz.ipynb) | quiz | core | — |"]
    assert "The core path: about 15 min; every notebook: about 1 h 05 min" in text, \
        "the landing page adds up the times as notebook 00's table does"
    toc = text[text.index("```{toctree}"):]
    assert toc.index("notebooks/00_start_here") < toc.index("notebooks/00a_asyncio_primer") < toc.index("notebooks/quiz")


def test_launch_links_need_a_public_repository():
    assert book.launch_links("") == {"lab": book.LAB_URL}
    links = book.launch_links("https://github.com/someone/models-workbook")
    assert links["binder"].startswith("https://mybinder.org/v2/gh/someone/models-workbook/main?urlpath=lab/tree/notebooks/")
    assert links["codespaces"] == "https://codespaces.new/someone/models-workbook?quickstart=1"


def test_without_npm_diagrams_stay_text_and_the_reason_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    script, why = mermaid_script()
    assert script is None and "npm is not installed" in why


# -- one real build -----------------------------------------------------------------------------------
def small_course(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "repo"
    (root / "notebooks" / "solutions").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    first = notebook(md("# 01 First\n\n**Time:** about 10 minutes\n\n## Plot\n\nAbout Bedrock."),
                     md("```mermaid\nflowchart LR\n  a --> b\n```"), py("print('hello')"), py("show()"))
    student, solution = exercise_pair()
    for name, nb in (("01_first", first), ("02_exercise", student)):
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    nbformat.write(solution, root / "notebooks" / "solutions" / "02_exercise_solution.ipynb")
    executed = tmp_path / "executed"
    executed.mkdir()
    ran = notebook(*first.cells)
    ran.cells[2].outputs = [printed("hello\n")]
    ran.cells[3].outputs = [nbformat.from_dict(widget_output(**{"text/html": "<p class='snap'>snapshot</p>",
                                                                "text/plain": "VBox()"}))]
    nbformat.write(ran, executed / "01_first-mock.ipynb")
    nbformat.write(solution, executed / "02_exercise_solution-mock.ipynb")
    return root, executed


def test_sphinx_builds_a_small_course_without_warnings(tmp_path, monkeypatch):
    root, executed = small_course(tmp_path)
    fake_mermaid = tmp_path / "mermaid" / "mermaid.min.js"
    fake_mermaid.parent.mkdir()
    fake_mermaid.write_text("window.mermaid = {initialize() {}, run() {}};")
    monkeypatch.setattr(book, "mermaid_script", lambda: (fake_mermaid, ""))
    report = book.build_site(root=root, executed=executed, out=tmp_path / "site")
    site = tmp_path / "site"

    assert [p["docname"] for p in report.pages] == ["index", "notebooks/01_first", "notebooks/02_exercise"]
    assert [p["title"] for p in report.pages] == ["Working with Models", "01 First", "09 Exercise"]
    assert not any(p["error_outputs"] for p in report.pages)
    on_disk = json.loads((site / "site-report.json").read_text())["pages"]
    assert {p["path"] for p in on_disk} == {"index.html", "notebooks/01_first.html", "notebooks/02_exercise.html"}
    landing = (site / "index.html").read_text()
    assert 'href="notebooks/01_first.html"' in landing, "the landing page does not link the notebook's page"
    first = (site / "notebooks" / "01_first.html").read_text()
    assert "hello" in first and "<p class='snap'>snapshot</p>" in first
    assert '<pre class="mermaid">flowchart LR\n  a --&gt; b</pre>' in first
    assert "_static/mermaid.min.js" in first and (site / "_static" / "mermaid.min.js").is_file()
    assert 'href="http://localhost:8888/lab/tree/01_first.ipynb"' in first, "no launch button to JupyterLab"
    assert 'href="01_first.ipynb"' in first, "no download of the notebook"
    assert "hello" in (site / "notebooks" / "01_first.ipynb").read_text(), "the download lacks its outputs"

    exercise = (site / "notebooks" / "02_exercise.html").read_text()
    assert "YOUR CODE HERE" in exercise and "PASSED 14/14" in exercise
    assert exercise.count('<details class="admonition hide') == 2   # the solution, the checker's output
    assert exercise.index("<details") < exercise.index("return") < exercise.index("PASSED 14/14")
    assert "check_more" not in exercise, "a hidden test is on the page"
    download = (site / "notebooks" / "02_exercise.ipynb").read_text()
    assert "YOUR CODE HERE" in download and "return 'hi'" not in download, \
        "the exercise's download is not the student's copy"
    assert not (site / "_sources").exists() or not list((site / "_sources").rglob("*02_exercise*")), \
        "the exercise page's source (with its solutions) is published"
    assert '"bedrock"' in (site / "searchindex.js").read_text(), "search does not know the page's words"


def test_without_mermaid_a_diagram_is_its_source_text(tmp_path, monkeypatch):
    root, executed = small_course(tmp_path)
    monkeypatch.setattr(book, "mermaid_script", lambda: (None, "npm is not installed"))
    book.build_site(root=root, executed=executed, out=tmp_path / "site")
    first = (tmp_path / "site" / "notebooks" / "01_first.html").read_text()
    assert 'class="mermaid"' not in first and "mermaid.min.js" not in first
    assert "flowchart LR" in first


def test_a_stale_run_is_executed_again(tmp_path, monkeypatch):
    root, executed = small_course(tmp_path)
    os.utime(executed / "01_first-mock.ipynb", (1_000_000_000, 1_000_000_000))
    ran = []
    monkeypatch.setattr(book, "execute", lambda nb, backend, out: ran.append((nb.name, backend)))
    book.run_missing(course_notebooks(root / "notebooks"), executed)
    assert ran == [("01_first.ipynb", "mock")]
