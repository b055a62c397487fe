"""The course site's parts, on small inputs: the page renderer, the exercise pages, the staging
of executed notebooks, and one real Jupyter Book 2 build of a two-notebook course.

The whole course's site is built by ``make test`` and walked in a browser by
tests/browser/test_course_site.py; these tests say which part broke, in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import nbformat
import pytest

from workbook.book import build as book
from workbook.book.diagrams import mermaid_script
from workbook.book.mdast_html import Page, render
from workbook.course.notebooks import course_notebooks


def page(**overrides) -> Page:
    return Page(asset=lambda path: "build" + path, page_url=lambda url: "PAGE:" + url,
                text_of=lambda path: "TEXT OF " + path, **overrides)


def node(kind: str, *children, **fields) -> dict:
    return {"type": kind, "children": list(children), **fields}


def text(value: str) -> dict:
    return {"type": "text", "value": value}


# -- the renderer -------------------------------------------------------------------------------------
def test_text_is_escaped_and_headings_get_anchors():
    html = render(node("heading", text("<Tokens> & cost"), depth=2, html_id="tokens-cost"), page())
    assert html.startswith('<h2 id="tokens-cost">&lt;Tokens&gt; &amp; cost')
    assert 'href="#tokens-cost"' in html


def test_links_inside_the_site_outside_it_and_to_downloads():
    seen = page()
    assert 'href="PAGE:/configuration"' in render(node("link", text("05"), url="/configuration", internal=True), seen)
    reference = node("crossReference", text("criteria"), url="/model-selection", html_id="the-criteria")
    assert 'href="PAGE:/model-selection#the-criteria"' in render(reference, seen)
    same_page = node("crossReference", text("above"), html_id="setup")
    assert 'href="#setup"' in render(same_page, seen)
    assert 'rel="noopener"' in render(node("link", text("vLLM"), url="https://docs.vllm.ai/"), seen)
    assert 'href="build/registry-abc.py"' in render(node("link", text("f"), url="/registry-abc.py", static=True), seen)


def output(data: dict, **fields) -> dict:
    return node("output", jupyter_data=data, **fields)


def test_outputs_in_the_order_a_reader_wants_them():
    seen = page()
    figure = output({"output_type": "display_data", "data": {
        "image/png": {"path": "/abc.png"}, "text/plain": {"content": "<Figure>"}}})
    assert '<img src="build/abc.png"' in render(figure, seen) and seen.images == 1
    table = output({"output_type": "execute_result", "data": {
        "text/html": {"content": "<table><tr><td>1</td></tr></table>"}, "text/plain": {"content": "1"}}})
    assert "<table><tr><td>1</td></tr></table>" in render(table, seen)
    big = output({"output_type": "execute_result", "data": {"text/plain": {"path": "/big.txt"}}})
    assert "TEXT OF /big.txt" in render(big, seen)
    widget = output({"output_type": "display_data", "data": {
        "application/vnd.jupyter.widget-view+json": {"content": "{}"}, "text/plain": {"content": "VBox()"}}})
    assert "open this notebook in JupyterLab" in render(widget, seen) and "VBox" not in render(widget, seen)
    stream = output({"output_type": "stream", "name": "stdout", "text": "\x1b[32mok\x1b[0m <3\n"})
    assert "ok &lt;3" in render(stream, seen) and "\x1b" not in render(stream, seen)
    assert seen.error_outputs == 0
    error = output({"output_type": "error", "ename": "ValueError", "evalue": "x",
                    "traceback": ["\x1b[31mValueError\x1b[0m: x"]})
    assert 'class="output error"' in render(error, seen) and seen.error_outputs == 1


def test_a_node_type_without_a_renderer_shows_its_text_and_is_reported():
    seen = page()
    assert render(node("someNewDirective", text("still readable")), seen) == "still readable"
    assert seen.unknown == {"someNewDirective"}


def test_code_is_coloured_and_diagrams_counted():
    seen = page()
    html = render(node("code", value="def f():\n    return 1", lang="python", executable=True), seen)
    assert 'class="cell-code"' in html and '<span class="k">def</span>' in html
    assert '<pre class="mermaid">flowchart LR\n  a --&gt; b</pre>' == render(
        node("mermaid", value="flowchart LR\n  a --> b"), seen)
    assert seen.diagrams == 1


# -- the course, staged -------------------------------------------------------------------------------
def notebook(*cells, backends=("mock",)) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "workbook": {"backends": list(backends)}})
    nb.cells = list(cells)
    return nb


def md(source: str):
    return nbformat.v4.new_markdown_cell(source)


def py(source: str, **metadata):
    return nbformat.v4.new_code_cell(source, metadata=metadata)


def test_course_order_puts_numbered_notebooks_first(tmp_path):
    for name in ["quiz.ipynb", "10_b.ipynb", "00a_primer.ipynb", "00_start.ipynb", "09_a.ipynb"]:
        (tmp_path / name).write_text("{}")
    ordered = [p.name for p in course_notebooks(tmp_path)]
    assert ordered == ["00_start.ipynb", "00a_primer.ipynb", "09_a.ipynb", "10_b.ipynb", "quiz.ipynb"]


def test_an_exercise_page_shows_the_students_code_and_folds_the_solution():
    test_cell = {"nbgrader": {"grade": True, "solution": False, "grade_id": "checks", "points": 2}}
    student = notebook(md("# 09 Exercise"), py("def chat():\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
                       py("check()", **test_cell))
    solved = notebook(md("# 09 Exercise — solution"), py("def chat():\n    return 'hi'  # uses ``` in a string"),
                      py("check()\n### BEGIN HIDDEN TESTS\ncheck_more()\n### END HIDDEN TESTS"))
    solved.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="all checks pass")]
    shown = book.exercise_page(student, solved)
    assert [c.cell_type for c in shown.cells] == ["markdown", "code", "markdown", "code"]
    assert shown.cells[0].source == "# 09 Exercise"                    # the student's text
    assert "YOUR CODE HERE" in shown.cells[1].source
    assert shown.cells[3].source == "check()"                           # hidden tests stay hidden
    assert shown.cells[2].source.startswith(":::{dropdown} Solution\n:class: solution\n````python\n")
    assert "return 'hi'" in shown.cells[2].source
    assert shown.cells[3].outputs[0].text == "all checks pass"      # the solution's run


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


def fake_tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_node_missing_or_too_old_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(book.BookError, match="apt install nodejs"):
        book.node_version()
    fake_tool(tmp_path, "node", "echo v16.20.2")
    with pytest.raises(book.BookError, match="too old"):
        book.node_version()
    fake_tool(tmp_path, "node", "echo v20.20.2")
    assert book.node_version() == (20, 20)


def test_without_npm_diagrams_stay_text_and_the_reason_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    script, why = mermaid_script()
    assert script is None and "npm is not installed" in why


# -- one real build ----------------------------------------------------------------------------------
def test_jupyter_book_builds_a_small_course_with_the_project_template(tmp_path):
    if shutil.which("node") is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("Node.js is not installed (make test installs it in CI)")
    root = tmp_path / "repo"
    (root / "notebooks" / "solutions").mkdir(parents=True)
    (root / "README.md").write_text("# A tiny course\n\nRead [the first notebook](notebooks/01_first.ipynb).\n")
    first = notebook(md("# 01 First\n\n## Plot\n\nSee [the exercise](02_exercise.ipynb)."), py("print('hello')"))
    exercise = notebook(md("# 02 Exercise"), py("answer = None  # YOUR CODE HERE"), py("assert answer"))
    solution = notebook(md("# 02 Exercise"), py("answer = 42"), py("assert answer"))
    for name, nb in (("01_first", first), ("02_exercise", exercise)):
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    nbformat.write(solution, root / "notebooks" / "solutions" / "02_exercise_solution.ipynb")

    executed = tmp_path / "executed"
    executed.mkdir()
    # A run from before the notebook was last edited: the build runs the notebook again.
    stale = notebook(*first.cells)
    stale.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="old output\n")]
    nbformat.write(stale, executed / "01_first-mock.ipynb")
    os.utime(executed / "01_first-mock.ipynb", (1_000_000_000, 1_000_000_000))
    solved = notebook(*solution.cells)
    solved.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="solved it\n")]
    nbformat.write(solved, executed / "02_exercise_solution-mock.ipynb")

    report = book.build_site(root=root, executed=executed, out=tmp_path / "site")
    site = tmp_path / "site"
    assert [p["title"] for p in report.pages] == ["A tiny course", "01 First", "02 Exercise"]
    assert all(not p["unknown_node_types"] and not p["error_outputs"] for p in report.pages)
    landing = (site / "index.html").read_text()
    assert 'href="first/index.html"' in landing, "the README's link to a notebook does not lead to its page"
    first_page = (site / "first" / "index.html").read_text()
    assert "hello" in first_page and "old output" not in first_page, "the stale run was published"
    assert 'href="../exercise/index.html"' in first_page
    exercise_page = (site / "exercise" / "index.html").read_text()
    assert '<details class="solution"><summary>Solution</summary>' in exercise_page
    assert "YOUR CODE HERE" in exercise_page and "solved it" in exercise_page
    assert "Download this notebook" not in exercise_page, "an exercise's page offers its solutions as a download"
    search = (site / "search-index.js").read_text()
    assert search.startswith("window.WORKBOOK_SEARCH = ") and "first/index.html" in search
    records = json.loads(search.removeprefix("window.WORKBOOK_SEARCH = ").rstrip(";\n"))
    assert any("Plot" in r["title"] for r in records)
