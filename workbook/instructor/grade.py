"""``python -m workbook grade DIR``: autograde a class's exercises offline, with nbgrader.

``DIR/<student>/<exercise>.ipynb`` (the file names of ``notebooks/``, e.g. as downloaded from an
LMS and unpacked one folder per student) are graded against the workbook's emulator:

1. a course folder is built in a temporary directory: the source (``exercises/source``), the
   gradebook (nbgrader's ``generate_assignment`` records every test cell and its points), each
   submission copied to ``submitted/<student>/<exercise>/``;
2. each submission is autograded by nbgrader (``autograde``: its test cells are put back from the
   source, hidden tests included, and run) in its own worker process (a fork of one that
   imported nbgrader once) bounded by a per-notebook timeout; nbgrader bounds each cell (``Execute.timeout``). The kernel runs in the submission's
   folder, sandboxed (``sandbox.py``), with the emulator's ``AI__*`` variables and none of the
   instructor's credentials;
3. nbgrader's ``generate_feedback`` writes one HTML page per student and exercise, copied to
   ``DIR/<student>/feedback/<exercise>.html``;
4. ``DIR/grades.csv`` gets one row per student and exercise: ``student, exercise, points,
   max_points``.

A submission that hangs (a cell or the whole notebook over its bound), tries to write outside
its folder or start a program, or that nbgrader cannot grade at all, gets 0 points; the reason is
at the top of its feedback page, in ``DIR/grading.log`` and in the summary printed at the end. A
cell that raises is reported the same way, and the test cells decide the points (the error
usually costs the tests after it theirs). The other submissions are graded as usual.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import sandbox
from .course import ROOT, assignments, check, copy_source, course_api, load_config

COLUMNS = ("student", "exercise", "points", "max_points")
CELL_TIMEOUT_S = 120        # one cell: the checker's cell runs a dozen bounded checks
NOTEBOOK_TIMEOUT_S = 600    # one notebook, kernel start and nbgrader's own work included
# Variables a kernel never inherits from the instructor's shell: its settings come from the
# emulator alone, and no credential reaches a student's code.
_PRIVATE_PREFIXES = ("AI__", "AWS_", "AZURE_", "OPENAI_", "ANTHROPIC_", "HF_", "GITHUB_", "GH_")
_PRIVATE_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
_TIMEOUT_ERRORS = ("CellTimeoutError", "DeadKernelError")


@dataclass
class Grade:
    student: str
    exercise: str
    points: float = 0.0
    max_points: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why it got 0, or what went wrong
    zeroed: bool = False
    feedback: Path | None = None
    seconds: float = 0.0

    def zero(self, reason: str) -> None:
        self.points, self.zeroed = 0.0, True
        self.reasons.append(reason)


def find_submissions(folder: Path, exercises: list[str]) -> list[tuple[str, str, Path]]:
    """``(student, exercise, path)`` for every ``folder/<student>/<exercise>.ipynb``."""
    found = []
    for student in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for exercise in exercises:
            path = student / f"{exercise}.ipynb"
            if path.is_file():
                found.append((student.name, exercise, path))
    return found


def grade_class(folder: Path, *, cell_timeout_s: int = CELL_TIMEOUT_S,
                notebook_timeout_s: float = NOTEBOOK_TIMEOUT_S, echo=print) -> list[Grade]:
    """Grade every submission in ``folder``; write ``grades.csv``, the feedback pages and
    ``grading.log`` there; return the grades."""
    from ..emulator import Emulator

    folder = folder.resolve()
    submissions = find_submissions(folder, assignments())
    if not submissions:
        raise SystemExit(f"No submissions in {folder}: expected {folder}/<student>/<exercise>.ipynb "
                         f"with an exercise file name of notebooks/ ({', '.join(assignments())}).")
    grades: list[Grade] = []
    with tempfile.TemporaryDirectory(prefix="workbook-grade-") as tmp, Emulator() as emulator:
        root = Path(tmp) / "course"
        copy_source(root)
        _build_font_cache(Path(tmp) / "matplotlib")
        api = course_api(root, load_config())
        for exercise in sorted({exercise for _, exercise, _ in submissions}):
            check(api.generate_assignment(exercise), f"record {exercise} in the gradebook")
        for student, exercise, path in submissions:
            echo(f"grading {student} / {exercise} ...")
            grade = _grade_one(root, Path(tmp), student, exercise, path, emulator,
                               cell_timeout_s, notebook_timeout_s)
            grade.feedback = _publish_feedback(root, folder, grade)
            grades.append(grade)
    _write_csv(folder / "grades.csv", grades)
    _write_log(folder / "grading.log", grades)
    return grades


def _grade_one(root: Path, tmp: Path, student: str, exercise: str, path: Path, emulator,
               cell_timeout_s: int, notebook_timeout_s: float) -> Grade:
    grade = Grade(student, exercise, max_points=_max_points(root, exercise))
    submitted = root / "submitted" / student / exercise
    submitted.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, submitted / f"{exercise}.ipynb")
    work = tmp / "kernels" / f"{student}-{exercise}"
    kernel_tmp = work / "tmp"
    kernel_tmp.mkdir(parents=True)
    log = work / "sandbox.log"
    env = _kernel_env(emulator, _provider_of(root, exercise), work, kernel_tmp, log)
    output = work / "worker.log"
    started = time.monotonic()
    worker = _workers().Process(target=_worker, args=(env, output, root, exercise, student, cell_timeout_s))
    worker.start()
    worker.join(notebook_timeout_s)
    if worker.is_alive():
        _kill_tree(worker.pid)
        worker.join()
        grade.zero(f"stopped: the notebook ran longer than {notebook_timeout_s:g} s "
                   "(does a cell wait for ever, or loop without end?)")
    else:
        text = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        result = _last_json(text)
        if not result.get("autograded"):
            grade.zero("nbgrader could not grade it: " + _first_error(result.get("log", "") or text))
    for refusal in sandbox.violations(log):
        grade.zero(f"tried to write outside its folder or start a program: {refusal}")
    executed = root / "autograded" / student / exercise / f"{exercise}.ipynb"
    if executed.exists():
        for reason, fatal in _cell_problems(nbformat.read(executed, as_version=4), cell_timeout_s):
            grade.zero(reason) if fatal else grade.reasons.append(reason)
    if not grade.zeroed:
        grade.points = _score(root, student, exercise)
    grade.reasons = list(dict.fromkeys(grade.reasons))
    grade.seconds = time.monotonic() - started
    return grade


def _workers():
    """Where each submission's worker process comes from: a fork of one process that imported
    nbgrader once (a fresh interpreter per submission spent seconds importing it again)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["workbook.instructor.course", "nbgrader.apps"])
    return context


def _worker(env: dict[str, str], output: Path, root: Path, exercise: str, student: str,
            cell_timeout_s: int) -> None:
    """In the worker process (a session of its own, so a timeout ends its whole tree): nbgrader's
    autograde and feedback for one submission, with the kernel's environment and everything it
    prints in ``output``, its result as the last line."""
    os.setsid()
    os.environ.clear()
    os.environ.update(env)  # what the kernel nbgrader starts inherits
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    try:
        api = course_api(root, load_config(Execute={"timeout": cell_timeout_s}))
        autograded = api.autograde(exercise, student)
        result = {"autograded": bool(autograded.get("success")), "log": autograded.get("log", "")}
        if result["autograded"]:
            feedback = api.generate_feedback(exercise, student)
            result["feedback"] = bool(feedback.get("success"))
        print(json.dumps(result))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _kernel_env(emulator, provider: str, work: Path, kernel_tmp: Path, log: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(_PRIVATE_PREFIXES) and not any(w in name.upper() for w in _PRIVATE_WORDS)}
    env.update(emulator.env(provider))
    home = work / "home"  # ~ of the kernel: empty, so no SDK finds the instructor's files there
    home.mkdir(parents=True, exist_ok=True)
    env.update({
        "HOME": str(home),
        sandbox.PRIVATE_VARIABLE: os.pathsep.join(sandbox.private_paths(str(Path.home()), str(ROOT))),
        "IPYTHONDIR": str(sandbox.profile(work / "ipython")),
        "TMPDIR": str(kernel_tmp), "MPLCONFIGDIR": str(work.parent.parent / "matplotlib"),
        sandbox.TMP_VARIABLE: str(kernel_tmp), sandbox.LOG_VARIABLE: str(log),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def _build_font_cache(folder: Path) -> None:
    """matplotlib's font cache, built once before any kernel starts: building it runs
    ``fc-list``, a program the sandbox would refuse to a kernel."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], check=False,
                   env={**os.environ, "MPLCONFIGDIR": str(folder)}, capture_output=True, timeout=300)


def _provider_of(root: Path, exercise: str) -> str:
    """The provider an exercise writes (``metadata.workbook.provider``): whose ``AI__*``
    variables, pointing at the emulator, the kernel gets."""
    nb = nbformat.read(root / "source" / exercise / f"{exercise}.ipynb", as_version=4)
    return nb.metadata.get("workbook", {}).get("provider", "openai")


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    family = parent.children(recursive=True) + [parent]
    for process in family:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    # Gone, or a zombie: the kernel's parent (the worker) died with it, and where the machine's
    # first process reaps no orphans it stays one; it runs nothing any more.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_ended(process) for process in family):
        time.sleep(0.05)


def _ended(process) -> bool:
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _cell_problems(nb, cell_timeout_s: int) -> list[tuple[str, bool]]:
    """``(reason, fatal)`` for each cell that errored outside a test or TODO cell; a cell over
    its time bound is fatal (the notebook hung)."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            name, value = output.get("ename", ""), str(output.get("evalue", "")).split("\n")[0][:200]
            if name in _TIMEOUT_ERRORS or (name == "KeyboardInterrupt"):
                problems.append((f"stopped: cell {index} ran longer than {cell_timeout_s} s", True))
            elif "raises-exception" not in cell.metadata.get("tags", []):  # not a test or a TODO
                if name == "PermissionError" and "sandbox" in value:
                    continue  # reported from the sandbox's own log
                problems.append((f"cell {index} raised {name}: {value}", False))
    return problems


def _score(root: Path, student: str, exercise: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return float(gradebook.find_submission(exercise, student).score)


def _max_points(root: Path, exercise: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return float(gradebook.find_assignment(exercise).max_score)


def _publish_feedback(root: Path, folder: Path, grade: Grade) -> Path:
    """nbgrader's feedback page (or, when there is none, a page saying why) in
    ``DIR/<student>/feedback/<exercise>.html``, the reasons for a 0 at its top."""
    target = folder / grade.student / "feedback" / f"{grade.exercise}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    page = root / "feedback" / grade.student / grade.exercise / f"{grade.exercise}.html"
    banner = _banner(grade)
    if page.exists() and not grade.zeroed:
        text = page.read_text(encoding="utf-8")
    else:
        text = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(grade.exercise)}"
                f"</title></head><body><h1>{html.escape(grade.exercise)}: {grade.student}</h1>"
                f"<p>Score: 0 / {grade.max_points:g}</p></body></html>")
    if banner:
        text = text.replace("<body>", "<body>" + banner, 1) if "<body>" in text else banner + text
    target.write_text(text, encoding="utf-8")
    return target


def _banner(grade: Grade) -> str:
    if not grade.reasons:
        return ""
    title = "Graded 0" if grade.zeroed else "Notes from the grader"
    items = "".join(f"<li>{html.escape(reason)}</li>" for reason in grade.reasons)
    return (f"<div style='border:2px solid #cf222e;padding:0.5em 1em;margin:1em'>"
            f"<strong>{title}</strong><ul>{items}</ul></div>")


def _write_csv(path: Path, grades: list[Grade]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for grade in grades:
            writer.writerow([grade.student, grade.exercise, f"{grade.points:g}", f"{grade.max_points:g}"])


def _write_log(path: Path, grades: list[Grade]) -> None:
    lines = [f"{g.student}\t{g.exercise}\t{g.points:g}/{g.max_points:g}\t{reason}"
             for g in grades for reason in g.reasons]
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _first_error(log: str) -> str:
    errors = [line for line in log.splitlines() if "[ERROR]" in line or "Error" in line]
    return (errors[0] if errors else log.strip().splitlines()[-1] if log.strip() else "no output").strip()[:300]


def main(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=(
        "Autograde DIR/<student>/<exercise>.ipynb offline with nbgrader; write DIR/grades.csv "
        "and DIR/<student>/feedback/<exercise>.html."))
    parser.add_argument("folder", type=Path, metavar="DIR")
    parser.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S,
                        help=f"seconds one cell may run (default {CELL_TIMEOUT_S})")
    parser.add_argument("--notebook-timeout", type=float, default=NOTEBOOK_TIMEOUT_S,
                        help=f"seconds one notebook may take in all (default {NOTEBOOK_TIMEOUT_S})")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    grades = grade_class(args.folder, cell_timeout_s=args.cell_timeout,
                         notebook_timeout_s=args.notebook_timeout)
    width = max(len(g.student) for g in grades)
    print(f"\n{'student':<{width}}  exercise                       points")
    for g in grades:
        print(f"{g.student:<{width}}  {g.exercise:<30} {g.points:g}/{g.max_points:g}")
        for reason in g.reasons:
            print(f"{'':<{width}}    {'0: ' if g.zeroed else ''}{reason}")
    folder = args.folder.resolve()
    print(f"\nGrades: {folder / 'grades.csv'}\nFeedback: {folder}/<student>/feedback/<exercise>.html"
          f"\nReasons and notes: {folder / 'grading.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="python -m workbook.instructor.grade"))
