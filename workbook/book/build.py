"""Build the course site: stage a Sphinx project from the executed notebooks, run Sphinx.

The staged project (``_build/book/``) holds the configuration and landing page of
``workbook/book/site/`` and every course notebook, in course order, as the tests executed it
(``test-output/notebooks/<stem>-<backend>.ipynb``, the notebook's first listed backend). A notebook
with no up-to-date run is executed here, once, into the same folder. Sphinx (myst-nb reads the
notebooks without executing them, sphinx-book-theme lays them out) writes ``_build/html``, with
warnings as errors.

An exercise's page is what the student is given, run as its solution ran: the student's starting
code, each solution folded below the code it replaces, and every output that depends on the
solutions (the checker's table above all) folded too. Hidden tests stay hidden: a test cell shows
the student's version. Its download is the student's copy.

Widgets need a kernel; the page shows what they offer without one: the static view a widget's
output carries (``text/html``, as the quiz and the widgets of ``workbook.widgets`` do), a progress
bar's last line of text, or a one-line note.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..course.execute import execute, executed_name
from ..course.notebooks import (COURSE, ROOT, core_minutes, core_minutes_of, course_notebooks, hours,
                                minutes, solution_of)
from .diagrams import mermaid_script

SITE_SOURCE = Path(__file__).resolve().parent / "site"
SITE_TITLE = "Working with Models"
BUILD_TIMEOUT_S = 600
PATH_MARKER = "<!-- workbook: course path -->"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# JupyterLab's address after `make lab` (its PORT); the file browser's root is notebooks/.
LAB_URL = "http://localhost:8888/lab/tree/{notebook}"
# A tqdm bar's text: "label: 100%|██████████| 12/12 [00:01<00:00, 9.1call/s]".
PROGRESS_TEXT = re.compile(r"\d+%\|")
WIDGET_NOTE = ("(An interactive widget is here. It needs a running kernel: run this notebook in "
               "JupyterLab to use it.)")


class BookError(RuntimeError):
    """The site could not be built; the message says what to do."""


@dataclass
class SiteReport:
    out: Path
    pages: list[dict]
    seconds: float
    sphinx_seconds: float

    def summary(self) -> str:
        images = sum(page["images"] for page in self.pages)
        return (f"course site: {len(self.pages)} pages, {images} images, in {self.seconds:.1f} s "
                f"(Sphinx {self.sphinx_seconds:.1f} s) -> {self.out / 'index.html'}")


# -- the course, in order -------------------------------------------------------------------------
def first_backend(notebook: Path) -> str:
    backends = nbformat.read(notebook, as_version=4).metadata.get("workbook", {}).get("backends") or ["mock"]
    return backends[0]


def published_run(notebook: Path) -> Path:
    """The notebook whose run a page shows: an exercise's page shows its solution's run."""
    return solution_of(notebook) or notebook


def stale_or_missing(notebook: Path, executed: Path) -> bool:
    """No run of the notebook, or one older than the notebook (edited since the tests ran)."""
    path = executed / executed_name(notebook, first_backend(notebook))
    return not path.exists() or path.stat().st_mtime < notebook.stat().st_mtime


def executed_copy(notebook: Path, executed: Path) -> nbformat.NotebookNode:
    """The notebook as the tests ran it (``stage`` runs the missing and stale ones first)."""
    path = executed / executed_name(notebook, first_backend(notebook))
    run = nbformat.read(path, as_version=4)
    # papermill marks a failed run in its metadata, and puts a cell saying so at its top
    # (a kernel that died leaves only the cell).
    failed = any("papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []) for cell in run.cells)
    if failed or run.metadata.get("papermill", {}).get("exception"):
        raise BookError(f"{path} is the run of a notebook that stopped on an error: fix "
                        f"{notebook.name} (make test shows the failing cell), then build again.")
    run.cells = [cell for cell in run.cells
                 if "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]
    return run


# -- what a page shows ----------------------------------------------------------------------------
def static_output(output: dict) -> dict:
    """A widget's output as a page without a kernel can show it (see the module's docstring)."""
    data = output.get("data") or {}
    if WIDGET_VIEW not in data:
        return output
    shown = copy.deepcopy(output)
    del shown["data"][WIDGET_VIEW]
    if "text/html" in shown["data"]:
        return shown
    text = str(shown["data"].get("text/plain", ""))
    if PROGRESS_TEXT.search(text):
        shown["data"] = {"text/plain": text}
    else:
        shown["data"] = {"text/plain": WIDGET_NOTE}
    return shown


def static_views(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(static_output(o)) for o in cell.get("outputs", [])]
    # Widget state is never saved by the runs; an empty entry would only make myst-nb load scripts.
    notebook.metadata.pop("widgets", None)
    return notebook


def is_solution_cell(student: dict, solution: dict) -> bool:
    marked = student.get("metadata", {}).get("nbgrader", {})
    if "solution" in marked:
        return bool(marked["solution"])
    return student.cell_type == "code" and student.source != solution.source


def folded(cell: nbformat.NotebookNode, tag: str, show: str, hide: str) -> nbformat.NotebookNode:
    """A code cell whose content myst-nb folds into a closed ``<details>`` titled ``show``."""
    cell.metadata.setdefault("tags", [])
    cell.metadata["tags"] = [t for t in cell.metadata["tags"] if not t.startswith("hide-")] + [tag]
    cell.metadata["mystnb"] = {"code_prompt_show": show, "code_prompt_hide": hide}
    return cell


def exercise_page(student: nbformat.NotebookNode, solution_run: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's notebook with the solution's run folded into it (see the module's docstring)."""
    if len(student.cells) != len(solution_run.cells):
        raise BookError("an exercise and its solution must have the same cells "
                        f"({len(student.cells)} vs {len(solution_run.cells)}): run `make release`.")
    page = nbformat.v4.new_notebook(metadata=copy.deepcopy(solution_run.metadata))
    solved_yet = False
    for given, solved in zip(student.cells, solution_run.cells):
        if given.cell_type != "code" or solved.cell_type != "code":
            page.cells.append(copy.deepcopy(given))
            continue
        if is_solution_cell(given, solved):
            solved_yet = True
            stub = nbformat.v4.new_code_cell(given.source, metadata=copy.deepcopy(given.metadata))
            page.cells.append(stub)
            answer = nbformat.from_dict(copy.deepcopy(dict(solved)))
            answer.metadata.setdefault("tags", []).append("solution")
            page.cells.append(folded(answer, "hide-cell", "Solution", "Hide the solution"))
            continue
        shown = nbformat.from_dict(copy.deepcopy(dict(solved)))
        shown.source = given.source                # hidden tests stay hidden
        if solved_yet and shown.get("outputs"):
            # What this cell printed depends on the solutions above it: folded like them.
            shown.metadata.setdefault("tags", []).append("solution-output")
            folded(shown, "hide-output", "What it shows with the solution",
                   "Hide what it shows with the solution")
        page.cells.append(shown)
    return page


# -- the landing page -----------------------------------------------------------------------------
def title_of(notebook: Path) -> str:
    """The notebook's ``# `` title (its opening cell's first heading)."""
    opening = next((c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown"), None)
    for line in (opening.source.splitlines() if opening else []):
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def course_path(notebooks: list[Path]) -> str:
    """The landing page's table of the course: each notebook's kind, whether it is on the core
    path, and its time -- read the way notebook 00's table reads them (``workbook.course.notebooks``)."""
    on_core = {lesson.stem: lesson.core for lesson in COURSE}
    rows, whole = [], 0
    for path in notebooks:
        stated = minutes(path)
        whole += stated or 0
        kind = "exercise" if solution_of(path) else ("quiz" if path.stem == "quiz" else "notebook")
        core = on_core.get(path.stem)
        part = core_minutes_of(path) if core else None
        rows.append(f"| [{title_of(path) or path.stem}](notebooks/{path.name}) | {kind} | "
                    f"{'core' if core else 'optional'} | {f'about {stated} min' if stated else '—'}"
                    f"{f' ({part} on the core path)' if part and part != stated else ''} |")
    return "\n".join(["| notebook | kind | path | time |", "|---|---|---|---|", *rows, "",
                      f"The core path: about {hours(core_minutes(notebooks[0].parent))}; every notebook: about "
                      f"{hours(whole)}, by the notebooks' own estimates."])


def landing_page(notebooks: list[Path]) -> str:
    text = (SITE_SOURCE / "index.md").read_text(encoding="utf-8")
    if PATH_MARKER not in text:
        raise BookError(f"{SITE_SOURCE / 'index.md'} lost its line {PATH_MARKER!r}")
    toc = "\n".join(["", "```{toctree}", ":hidden:", ":maxdepth: 1", "",
                     *[f"notebooks/{path.stem}" for path in notebooks], "```", ""])
    return text.replace(PATH_MARKER, course_path(notebooks)) + toc


# -- staging --------------------------------------------------------------------------------------
def repository_url(root: Path) -> str:
    """The repository's public address, when pyproject.toml names one ([project.urls] Repository)."""
    import tomllib

    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    return str(project.get("urls", {}).get("Repository", "")).rstrip("/")


def launch_links(repository: str, branch: str = "main") -> dict:
    launch = {"lab": LAB_URL}
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?", repository)
    if match:
        owner, name = match.groups()
        launch["binder"] = (f"https://mybinder.org/v2/gh/{owner}/{name}/{branch}"
                            "?urlpath=lab/tree/notebooks/{notebook}")
        launch["codespaces"] = f"https://codespaces.new/{owner}/{name}?quickstart=1"
    return launch


def run_missing(notebooks: list[Path], executed: Path) -> None:
    to_run = [published_run(nb) for nb in notebooks if stale_or_missing(published_run(nb), executed)]
    for count, notebook in enumerate(to_run, 1):
        backend = first_backend(notebook)
        print(f"[{count}/{len(to_run)}] executing {notebook.name} ({backend}): "
              f"no up-to-date run in {executed}", flush=True)
        execute(notebook, backend, executed)


def stage(root: Path, executed: Path, project: Path, mermaid_js: Path | None = None) -> list[Path]:
    """Write the Sphinx project; returns the notebooks it holds, in course order."""
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(SITE_SOURCE, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "notebooks").mkdir()
    (project / "downloads" / "notebooks").mkdir(parents=True)
    notebooks = course_notebooks(root / "notebooks")
    run_missing(notebooks, executed)
    downloads = {}
    for notebook in notebooks:
        run = executed_copy(published_run(notebook), executed)
        download = project / "downloads" / "notebooks" / notebook.name
        if solution_of(notebook) is not None:
            student = nbformat.read(notebook, as_version=4)
            run = exercise_page(student, run)
            shutil.copy2(notebook, download)
            tooltip = "Download the exercise: your starting copy (.ipynb), without the solutions"
        else:
            nbformat.write(run, download)
            tooltip = "Download this notebook with its outputs (.ipynb)"
        nbformat.write(static_views(run), project / "notebooks" / notebook.name)
        downloads[f"notebooks/{notebook.stem}"] = {"file": f"notebooks/{notebook.name}",
                                                   "notebook": notebook.name, "tooltip": tooltip}
    (project / "index.md").write_text(landing_page(notebooks), encoding="utf-8")
    repository = repository_url(root)
    site = {"title": SITE_TITLE, "author": "the workbook's authors", "copyright": "the workbook's authors",
            "repository": repository, "branch": "main", "launch": launch_links(repository),
            "mermaid_js": str(mermaid_js) if mermaid_js else "", "downloads": downloads}
    (project / "site.json").write_text(json.dumps(site, indent=2), encoding="utf-8")
    return notebooks


def run_sphinx(project: Path, out: Path) -> str:
    """Sphinx, warnings as errors, from scratch (-E: every page is checked every time)."""
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
               "-d", str(project / ".doctrees"), str(project), str(out)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise BookError(f"Sphinx did not finish in {BUILD_TIMEOUT_S} s") from error
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise BookError("Sphinx failed (warnings count as errors):\n" + "\n".join(log.splitlines()[-40:]))
    return log


def build_site(root: Path = ROOT, executed: Path | None = None, out: Path | None = None) -> SiteReport:
    started = time.perf_counter()
    executed = executed or root / "test-output" / "notebooks"
    out = out or root / "_build" / "html"
    project = root / "_build" / "book"
    script, why_not = mermaid_script()
    if script is None:
        print(f"warning: the site's diagrams stay as Mermaid text ({why_not})", file=sys.stderr)
    notebooks = stage(root, executed, project, script)
    if out.exists():
        shutil.rmtree(out)
    sphinx_started = time.perf_counter()
    run_sphinx(project, out)
    sphinx_seconds = time.perf_counter() - sphinx_started
    report_path = out / "site-report.json"
    if not report_path.exists():
        raise BookError(f"Sphinx ran but wrote no {report_path.name}: is workbook.book.sphinx_site loaded?")
    by_name = {page["docname"]: page for page in json.loads(report_path.read_text())["pages"]}
    order = ["index", *[f"notebooks/{path.stem}" for path in notebooks]]
    pages = [by_name[name] for name in order if name in by_name]
    return SiteReport(out=out, pages=pages, seconds=time.perf_counter() - started,
                      sphinx_seconds=sphinx_seconds)


def main(argv: list[str], prog: str) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description="Build the course site into _build/html.")
    parser.add_argument("--executed", type=Path, default=None,
                        help="executed notebooks to publish (default: test-output/notebooks; "
                             "missing ones are executed)")
    parser.add_argument("--out", type=Path, default=None, help="where the site goes (default: _build/html)")
    args = parser.parse_args(argv)
    try:
        report = build_site(executed=args.executed, out=args.out)
    except BookError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0
