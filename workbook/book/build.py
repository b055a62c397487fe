"""Build the course site: stage a MyST project from the executed notebooks, run Jupyter Book 2.

The staged project (``_build/book/``) holds the README as the landing page and every course
notebook, in course order, as the tests executed it (``test-output/notebooks/<stem>-<backend>.ipynb``,
the notebook's first listed backend). A notebook with no executed copy is executed here, once,
into the same folder. An exercise's page is its solution's run with the student's starting
code shown and each solution folded into a "Solution" dropdown below it, so the page has the
checker's passing output and gives nothing away until a reader opens it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..course.execute import execute, executed_name
from ..course.notebooks import ROOT, course_notebooks, solution_of
from .diagrams import mermaid_script
from .render import MERMAID_VARIABLE

THEME = Path(__file__).resolve().parent / "theme"
NODE_MINIMUM = (18, 0)
BUILD_TIMEOUT_S = 600
SITE_TITLE = "Working with Models"


class BookError(RuntimeError):
    """The site could not be built; the message says what to do."""


@dataclass
class SiteReport:
    out: Path
    pages: list[dict]
    seconds: float

    def summary(self) -> str:
        images = sum(page["images"] for page in self.pages)
        return (f"course site: {len(self.pages)} pages, {images} images, in {self.seconds:.1f} s -> "
                f"{self.out / 'index.html'}")


def node_version() -> tuple[int, int]:
    """The installed Node.js version; Jupyter Book 2 runs on Node.js 18 or newer."""
    try:
        found = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    match = re.match(r"v(\d+)\.(\d+)", found.strip())
    if not match:
        raise BookError("Node.js is not installed, and Jupyter Book 2 needs it (18 or newer): "
                        "install it with `apt install nodejs` (Debian/Ubuntu) or from your "
                        "system's packages, then run `make book` again.")
    version = (int(match.group(1)), int(match.group(2)))
    if version < NODE_MINIMUM:
        raise BookError(f"Node.js {found.strip()} is too old: Jupyter Book 2 needs 18 or newer "
                        "(Debian 12's `apt install nodejs` gives 18).")
    return version


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
    if run.metadata.get("papermill", {}).get("exception"):
        raise BookError(f"{path} is the run of a notebook that stopped on an error: fix "
                        f"{notebook.name} (make test shows the failing cell), then build again.")
    run.cells = [cell for cell in run.cells
                 if "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]
    return run


def is_solution_cell(student: dict, solution: dict) -> bool:
    marked = student.get("metadata", {}).get("nbgrader", {})
    if "solution" in marked:
        return bool(marked["solution"])
    return student.cell_type == "code" and student.source != solution.source


def solution_dropdown(source: str) -> nbformat.NotebookNode:
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    return nbformat.v4.new_markdown_cell(
        f":::{{dropdown}} Solution\n:class: solution\n{fence}python\n{source}\n{fence}\n:::")


def exercise_page(student: nbformat.NotebookNode, solution_run: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What the student is given (text and code), with the solution's outputs, and each
    solution folded below the code it replaces. Hidden tests stay hidden: a test cell shows
    the student's version."""
    if len(student.cells) != len(solution_run.cells):
        raise BookError("an exercise and its solution must have the same cells "
                        f"({len(student.cells)} vs {len(solution_run.cells)}): run `make release`.")
    page = nbformat.v4.new_notebook(metadata=solution_run.metadata)
    for given, solved in zip(student.cells, solution_run.cells):
        shown = nbformat.from_dict(dict(solved)) if given.cell_type == solved.cell_type == "code" else given
        shown.source = given.source
        page.cells.append(shown)
        if is_solution_cell(given, solved):
            page.cells.append(solution_dropdown(solved.source))
    return page


def stage(root: Path, executed: Path, project: Path) -> list[str]:
    """Write the MyST project; returns its table of contents (file names)."""
    if project.exists():
        shutil.rmtree(project)
    (project / "notebooks").mkdir(parents=True)
    shutil.copy2(root / "README.md", project / "README.md")
    toc = ["README.md"]
    notebooks = course_notebooks(root / "notebooks")
    to_run = [published_run(nb) for nb in notebooks if stale_or_missing(published_run(nb), executed)]
    for count, notebook in enumerate(to_run, 1):
        backend = first_backend(notebook)
        print(f"[{count}/{len(to_run)}] executing {notebook.name} ({backend}): "
              f"no up-to-date run in {executed}", flush=True)
        execute(notebook, backend, executed)
    for notebook in notebooks:
        run = executed_copy(published_run(notebook), executed)
        if solution_of(notebook) is not None:
            run = exercise_page(nbformat.read(notebook, as_version=4), run)
        nbformat.write(run, project / "notebooks" / notebook.name)
        toc.append(f"notebooks/{notebook.name}")
    config = {
        "version": 1,
        "project": {"title": SITE_TITLE, "toc": [{"file": name} for name in toc]},
        "site": {"template": str(THEME), "title": SITE_TITLE},
    }
    # JSON is YAML: no YAML writer needed.
    (project / "myst.yml").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return toc


def run_jupyter_book(project: Path) -> str:
    env = dict(os.environ)
    # The template's render command is `python -m workbook.book.render`: this interpreter's.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["JB_ALLOW_NODEENV"] = "0"      # never offer to download Node.js
    env.pop("BASE_URL", None)
    script, why_not = mermaid_script()
    if script is None:
        print(f"warning: the site's diagrams stay as Mermaid text ({why_not})", file=sys.stderr)
    else:
        env[MERMAID_VARIABLE] = str(script)
    try:
        done = subprocess.run([sys.executable, "-m", "jupyter_book", "build", "--html", "--ci"],
                              cwd=project, env=env, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise BookError(f"Jupyter Book did not finish in {BUILD_TIMEOUT_S} s") from error
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise BookError("Jupyter Book failed:\n" + "\n".join(log.splitlines()[-30:]))
    return log


def build_site(root: Path = ROOT, executed: Path | None = None, out: Path | None = None) -> SiteReport:
    started = time.perf_counter()
    node_version()
    executed = executed or root / "test-output" / "notebooks"
    out = out or root / "_build" / "html"
    project = root / "_build" / "book"
    stage(root, executed, project)
    log = run_jupyter_book(project)
    built = project / "_build" / "html"
    report_path = built / "site-report.json"
    if not report_path.exists():
        raise BookError("Jupyter Book ran but the site template wrote nothing:\n" + log[-3000:])
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(built, out)
    pages = json.loads(report_path.read_text())["pages"]
    return SiteReport(out=out, pages=pages, seconds=time.perf_counter() - started)


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
