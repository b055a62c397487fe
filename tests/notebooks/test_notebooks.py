"""Every notebook: its conventions, and a run top to bottom under each offline backend.

Notebooks are discovered (``notebooks/**/*.ipynb``), so a new one is picked up with no
change here. Conventions (notebooks/README.md) are checked first, with messages that
say what to fix; then papermill executes each (notebook, backend) pair as its own test,
writing the executed copy to ``test-output/notebooks/`` for inspection.

Exercises: ``notebooks/solutions/<stem>_solution.ipynb`` is the solution of
``notebooks/<stem>.ipynb``. Both declare ``RESULT_PATH = None`` in their parameters cell;
the runner passes a path and the notebook's checker writes its conformance report there
(``report.save(RESULT_PATH)``). The skeleton must run to the end and *fail* the checker,
every failed check carrying a hint; the solution must pass it.
"""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
OUTPUT = ROOT / "test-output" / "notebooks"
OFFLINE_BACKENDS = ("mock", "emulator", "local")
TIMES: dict[str, float] = {}


def discover() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("."))


def rel(path: Path) -> str:
    return path.relative_to(NOTEBOOKS).as_posix()


def read(path: Path):
    return nbformat.read(path, as_version=4)


def parameters_cell(nb):
    code = [c for c in nb.cells if c.cell_type == "code"]
    return code[0] if code and "parameters" in c_tags(code[0]) else None


def c_tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def assigned(cell) -> dict[str, object]:
    """Names the parameters cell assigns, with their literal values where literal."""
    values: dict[str, object] = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        values[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError):
                        values[target.id] = ...
    return values


def backends_of(path: Path) -> list[str]:
    backends = read(path).metadata.get("workbook", {}).get("backends")
    return list(backends) if isinstance(backends, list) else []


def solution_of(path: Path) -> Path | None:
    if path.parent.name == "solutions":
        return None
    candidate = NOTEBOOKS / "solutions" / f"{path.stem}_solution.ipynb"
    return candidate if candidate.exists() else None


def is_solution(path: Path) -> bool:
    return path.parent.name == "solutions"


NOTEBOOK_PATHS = discover()
RUNS = [pytest.param(p, b, id=f"{rel(p)}[{b}]") for p in NOTEBOOK_PATHS for b in backends_of(p)
        if b in OFFLINE_BACKENDS]


def test_notebooks_exist():
    assert NOTEBOOK_PATHS, f"no notebooks found under {NOTEBOOKS}"


# -- conventions ----------------------------------------------------------------------------
SECRET_PATTERNS = [
    (re.compile(r"sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}"), "an OpenAI/Anthropic-style API key"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"(?i)(?:api[_-]?key|secret|password|token)['\"]?\s*[:=]\s*['\"][A-Za-z0-9/+_\-]{24,}['\"]"),
     "a hard-coded credential"),
    (re.compile(r"\bxox[abp]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\bghp_[A-Za-z0-9]{30,}"), "a GitHub token"),
]


def convention_problems(path: Path) -> list[str]:
    problems: list[str] = []
    nb = read(path)
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec name is {kernel!r}: set metadata.kernelspec.name to 'python3' "
                        "(any other name fails in every runner with NoSuchKernel)")
    if "widgets" in nb.metadata:
        problems.append("metadata.widgets holds saved widget state: clear it (Settings > Save "
                        "Widget State Automatically off, then Kernel > Restart & Clear Outputs)")
    backends = nb.metadata.get("workbook", {}).get("backends")
    if not isinstance(backends, list) or not backends:
        problems.append('metadata.workbook.backends is missing: add e.g. {"workbook": {"backends": '
                        '["mock"]}} listing the offline backends CI runs it under')
    else:
        extra = [b for b in backends if b not in OFFLINE_BACKENDS]
        if extra:
            problems.append(f"metadata.workbook.backends lists {extra}: only {list(OFFLINE_BACKENDS)} "
                            "run offline in CI")
    cell = parameters_cell(nb)
    if cell is None:
        problems.append("the first code cell must be tagged 'parameters' (papermill) and set BACKEND")
    else:
        values = assigned(cell)
        if "BACKEND" not in values:
            problems.append("the parameters cell does not assign BACKEND = \"...\"")
        elif isinstance(backends, list) and backends and values["BACKEND"] != backends[0]:
            problems.append(f"the default BACKEND is {values['BACKEND']!r} but metadata.workbook."
                            f"backends starts with {backends[0]!r}: the first listed is the default")
        if (is_solution(path) or solution_of(path)) and "RESULT_PATH" not in values:
            problems.append("an exercise's parameters cell must set RESULT_PATH = None; its "
                            "checker cell writes the report there (report.save(RESULT_PATH))")
    for index, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        if c.get("outputs"):
            problems.append(f"cell {index} has committed outputs: clear them (Kernel > Restart & "
                            "Clear Outputs, or `jupyter nbconvert --clear-output --inplace`)")
        if c.get("execution_count") is not None:
            problems.append(f"cell {index} has an execution count: commit notebooks cleared")
        if "asyncio.run(" in c.source:
            problems.append(f"cell {index} calls asyncio.run(): the kernel's loop is already "
                            "running; use top-level `await`")
    text = "\n".join(c.source for c in nb.cells)
    for pattern, what in SECRET_PATTERNS:
        match = pattern.search(text)
        if match:
            problems.append(f"a cell contains what looks like {what} ({match.group(0)[:8]}…): "
                            "read secrets from the environment / .env, never write them in a notebook")
    return problems


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[rel(p) for p in NOTEBOOK_PATHS])
def test_conventions(path):
    problems = convention_problems(path)
    assert not problems, f"{rel(path)}:\n  - " + "\n  - ".join(problems)


def test_the_convention_check_catches_each_violation(tmp_path):
    good = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "workbook": {"backends": ["mock"]}})
    good.cells = [nbformat.v4.new_code_cell('BACKEND = "mock"', metadata={"tags": ["parameters"]}),
                  nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "good.ipynb"
    nbformat.write(good, path)
    assert convention_problems(path) == []

    bad = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "venv-kernel", "display_name": "venv"}, "widgets": {"state": {}}})
    ran = nbformat.v4.new_code_cell("import asyncio\nasyncio.run(main())\nkey = 'sk-" + "a" * 24 + "'")
    ran.execution_count = 3
    ran.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi")]
    bad.cells = [ran]
    path = tmp_path / "bad.ipynb"
    nbformat.write(bad, path)
    found = "\n".join(convention_problems(path))
    for expected in ("kernelspec", "metadata.widgets", "metadata.workbook.backends", "parameters",
                     "outputs", "execution count", "asyncio.run", "API key"):
        assert expected in found, f"not reported: {expected}\n{found}"


def test_every_exercise_has_a_solution_that_is_listed():
    for path in NOTEBOOK_PATHS:
        if is_solution(path):
            stem = path.stem.removesuffix("_solution")
            assert (NOTEBOOKS / f"{stem}.ipynb").exists(), \
                f"{rel(path)} has no exercise notebooks/{stem}.ipynb"


# -- execution --------------------------------------------------------------------------------
@pytest.mark.notebooks
@pytest.mark.parametrize("path,backend", RUNS)
def test_notebook_runs(path, backend):
    import papermill

    OUTPUT.mkdir(parents=True, exist_ok=True)
    name = f"{path.stem}-{backend}"
    executed = OUTPUT / f"{name}.ipynb"
    cell = parameters_cell(read(path))
    parameters: dict[str, object] = {"BACKEND": backend}
    result_path = None
    if cell is not None and "RESULT_PATH" in assigned(cell):
        result_path = OUTPUT / f"{name}.result.json"
        result_path.unlink(missing_ok=True)
        parameters["RESULT_PATH"] = str(result_path)
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path), str(executed), parameters=parameters, kernel_name="python3",
            cwd=str(path.parent), progress_bar=False, log_output=False,
            execution_timeout=240,
        )
    finally:
        TIMES[f"{rel(path)}[{backend}]"] = time.perf_counter() - started
        _write_times()
    if result_path is None:
        return
    assert result_path.exists(), (f"{rel(path)} declares RESULT_PATH but wrote nothing there: its "
                                  "checker cell should end with `if RESULT_PATH: report.save(RESULT_PATH)`")
    result = json.loads(result_path.read_text())
    failed = [c for c in result["checks"] if c["passed"] is False]
    if is_solution(path):
        assert result["passed"], (f"the solution {rel(path)} fails the checker:\n" + "\n".join(
            f"  {c['name']}: {c['detail']}" for c in failed))
    elif solution_of(path) is not None:
        assert not result["passed"], f"the skeleton {rel(path)} passes the checker before any work"
        assert failed and all(c["hint"] for c in failed), \
            f"every failed check of the skeleton needs a hint: {failed}"


def _write_times() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "times.json").write_text(json.dumps(
        {k: round(v, 2) for k, v in sorted(TIMES.items())}, indent=2))
