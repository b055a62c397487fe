"""Every notebook: its conventions, and a run top to bottom under each offline backend.

Notebooks are discovered (``notebooks/**/*.ipynb``), so a new one is picked up with no
change here. Conventions (notebooks/README.md) are checked first, with messages that
say what to fix; then papermill executes each (notebook, backend) pair as its own test,
writing the executed copy to ``test-output/notebooks/``: for inspection, and for the course
site (``make book`` publishes these copies instead of running the notebooks again).

Exercises: ``notebooks/solutions/<stem>_solution.ipynb`` is the solution of
``notebooks/<stem>.ipynb``. Both declare ``RESULT_PATH = None`` in their parameters cell;
the runner passes a path and the notebook's checker writes its conformance report there
(``report.save(RESULT_PATH)``). The skeleton must run to the end and *fail* the checker,
every failed check carrying a hint; the solution must pass it.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import time
import tokenize
from pathlib import Path

import nbformat
import pytest

from workbook.course.execute import execute, executed_name
from workbook.course.notebooks import solution_of

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


def is_solution(path: Path) -> bool:
    return path.parent.name == "solutions"


NOTEBOOK_PATHS = discover()
RUNS = [pytest.param(p, b, id=f"{rel(p)}[{b}]") for p in NOTEBOOK_PATHS for b in backends_of(p)
        if b in OFFLINE_BACKENDS]
# Each student notebook also runs once under "live" with no account configured: it must meet
# the missing accounts the way the providers do (a typed error with its hint, or "skipped:
# configure X" and the emulator instead), never with an SDK's traceback. That run checks how a
# notebook copes, not how fast a model is: where a notebook has knobs, they are turned down.
LIVE_PARAMETERS: dict[str, dict[str, object]] = {
    "06_small_language_models": {"MAX_TOKENS": 8},
}
# Without an account, `live` builds what `local` builds (load_settings() defaults to the local
# model). These notebooks have no cell that treats `live` otherwise -- none checks an account or
# branches on it -- so their live run repeats the run named here (where a cell differs, it says
# how); the check below keeps that true as they change.
LIVE_REPEATS: dict[str, str] = {
    "00_start_here": "local (the picker, the race) and mock (doctor's quick checks)",
    "00a_asyncio_primer": "local",
    "06a_structured_output": "local",
    # ~170 s, as long as the local run: the same evaluation on the same model, and only a
    # printed line where the local run fine-tunes.
    "08_fine_tuning_considerations": "local, but for the fine-tune cell: one line says it needs local",
    "quiz": "mock (it calls no model)",
    # ~120 s of the solo phase: the same three engines measured again. Its one live cell asks
    # account_for("live", "ollama"), which without a server says what to configure and returns
    # the emulator the local run uses -- that path is tests/unit/test_live_accounts.py's.
    "03_self_hosting": "local, but for the Ollama cell: without a server it says so and uses the emulator",
    # ~35 s: the same race with SmolLM2 as the local run; only the label of the provider under test
    # says "live: local" (provider_for and answer_source under live: tests/unit/test_live_accounts.py
    # and test_answer_source.py).
    "11_bonus_compare_providers": "local, but for the label of the provider under test",
}
# A repeat may still differ from the run it repeats in lines that only pick its account
# (account_for, its import and call, and `account.offline`) or only label what was built: those
# lines are left out of the check below, nothing else is.
LINES_THAT_MAY_DIFFER = {
    "03_self_hosting": re.compile(r"^.*(?:\baccount_for\b|\.offline\b).*$", re.M),
    "11_bonus_compare_providers": re.compile(r"^\s*TESTED = .*$", re.M),
}
RUNS += [pytest.param(p, "live", id=f"{rel(p)}[live]") for p in NOTEBOOK_PATHS
         if backends_of(p) and not is_solution(p) and p.stem not in LIVE_REPEATS]


def test_notebooks_exist():
    assert NOTEBOOK_PATHS, f"no notebooks found under {NOTEBOOKS}"


# What would make a live run differ from the runs it repeats: a cell naming `live`, checking an
# account, or reading settings itself; or an exercise's checker.
LIVE_DIFFERS = re.compile(r"""["']live["']|account_for|load_settings|what_is_missing""")


def without_comments(source: str) -> str:
    """The cell's code with its comments left out (all of it where it does not tokenize: magics)."""
    lines = source.splitlines()
    try:
        comments = [token.start for token in tokenize.generate_tokens(io.StringIO(source).readline)
                    if token.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return source
    for row, column in comments:   # a comment runs to the end of its line
        lines[row - 1] = lines[row - 1][:column]
    return "\n".join(lines)


@pytest.mark.parametrize("stem", sorted(LIVE_REPEATS))
def test_a_live_run_is_skipped_only_where_it_repeats_another_run(stem):
    path = NOTEBOOKS / f"{stem}.ipynb"
    assert path in NOTEBOOK_PATHS, f"LIVE_REPEATS names {stem}, which is not a notebook any more"
    assert solution_of(path) is None, f"{stem} is an exercise: its live run checks a student's provider"
    assert {"local", "mock"} & set(backends_of(path)), f"{stem} has no offline run its live run repeats"
    nb = read(path)
    code = [c.source for c in nb.cells if c.cell_type == "code" and c is not parameters_cell(nb)]
    code = [without_comments(source) for source in code]   # a comment changes no behaviour
    if stem in LINES_THAT_MAY_DIFFER:
        code = [LINES_THAT_MAY_DIFFER[stem].sub("", source) for source in code]
    found = [match.group(0) for source in code for match in LIVE_DIFFERS.finditer(source)]
    assert not found, (f"{stem} now treats `live` differently ({', '.join(found)}): remove it from "
                       "LIVE_REPEATS so its live run is tested again")


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


def calls_asyncio_run(source: str) -> bool:
    """Whether a cell calls ``asyncio.run``; a script's text in a string (notebook 00a writes one)
    is not a call. Cells with IPython magics do not parse: fall back to the text."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "asyncio.run(" in source
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "run" and isinstance(node.func.value, ast.Name)
               and node.func.value.id == "asyncio" for node in ast.walk(tree))


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
        if calls_asyncio_run(c.source):
            problems.append(f"cell {index} calls asyncio.run(): the kernel's loop is already "
                            "running; use top-level `await`")
    if NUMBERED.match(path.name):
        problems += course_format_problems(nb, path.name)
    text = "\n".join(c.source for c in nb.cells)
    for pattern, what in SECRET_PATTERNS:
        match = pattern.search(text)
        if match:
            problems.append(f"a cell contains what looks like {what} ({match.group(0)[:8]}…): "
                            "read secrets from the environment / .env, never write them in a notebook")
    return problems


# -- the course format: every numbered notebook opens and closes the same way -------------------
# Numbered: ``NN_name.ipynb`` (also ``NNa_name.ipynb``, a notebook slotted in after NN), in
# notebooks/ and notebooks/solutions/. The quiz and browser fixtures are not course chapters.
NUMBERED = re.compile(r"^(\d\d[a-z]?)_")
HEADING = re.compile(r"^#\s+(\d\d[a-z]?)\b\s*(?:[·:.\-–—]\s*)?(\S.*)?$")
CLOSING = ("## Recap", "## Check yourself", "## Going deeper", "## What's next")
DETAILS = re.compile(r"<details>\s*<summary>\s*Answer\s*</summary>(.*?)</details>", re.S)
LINK = re.compile(r"\]\(\s*https?://[^)\s]+\s*\)|<https?://[^>\s]+>")
OPENING_EXAMPLE = ("# NN Title\n\n**You will be able to:**\n- ...\n- ...\n- ...\n\n"
                   "**Time:** about 30 minutes\n\n**Before you start:** notebook NN, or nothing")


def course_format_problems(nb, name: str) -> list[str]:
    """What a numbered notebook's opening and closing are missing, each with how to fix it."""
    number = NUMBERED.match(name).group(1)
    return _opening_problems(nb, number) + _closing_problems(nb)


def _opening_problems(nb, number: str) -> list[str]:
    where = "the first cell"
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        return [f"{where} must be a Markdown cell that opens the notebook:\n{OPENING_EXAMPLE}"]
    lines = [line.rstrip() for line in nb.cells[0].source.splitlines()]
    problems: list[str] = []
    positions: dict[str, int] = {}
    heading = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    match = HEADING.match(lines[heading]) if heading is not None else None
    if match is None or not match.group(2):
        problems.append(f"{where} must start with a heading '# {number} Title' (the notebook's number, "
                        "then its title)")
    elif match.group(1) != number:
        problems.append(f"{where}'s heading says '# {match.group(1)}' but the file is numbered "
                        f"{number}: make them agree")
    else:
        positions["heading"] = heading
    objectives = next((i for i, line in enumerate(lines) if line.strip() == "**You will be able to:**"), None)
    if objectives is None:
        problems.append(f"{where} needs the line '**You will be able to:**' followed by 3-5 "
                        "objectives as bullets ('- ...')")
    else:
        positions["objectives"] = objectives
        bullets = 0
        for line in lines[objectives + 1:]:
            if line.lstrip().startswith(("- ", "* ")):
                bullets += 1
            elif line.strip() and not line.startswith("  "):  # a wrapped bullet stays indented
                break
        if not 3 <= bullets <= 5:
            problems.append(f"'**You will be able to:**' is followed by {bullets} bullet(s): list 3-5 "
                            "things the student will be able to do, one '- ' bullet each")
    for label, key in (("**Time:**", "time"), ("**Before you start:**", "before")):
        found = next((i for i, line in enumerate(lines) if line.strip().startswith(label)), None)
        if found is None:
            example = "about 30 minutes" if key == "time" else "notebook 04, or nothing"
            problems.append(f"{where} needs a line starting '{label}' (e.g. '{label} {example}')")
        elif not lines[found].strip()[len(label):].strip():
            problems.append(f"the '{label}' line is empty: say it in words")
        else:
            positions[key] = found
    order = ["heading", "objectives", "time", "before"]
    present = [key for key in order if key in positions]
    if [positions[key] for key in present] != sorted(positions[key] for key in present):
        problems.append(f"{where} must give, in this order: the '# {number} Title' heading, "
                        "'**You will be able to:**', '**Time:**', '**Before you start:**'")
    return problems


def _closing_problems(nb) -> list[str]:
    found: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            title = line.strip().replace("\u2019", "'")
            if title in CLOSING and title not in found:
                found[title] = index
    missing = [title for title in CLOSING if title not in found]
    if missing:
        return [f"the notebook must end with Markdown cells headed {', '.join(CLOSING)} (in this order); "
                f"missing: {', '.join(missing)}"]
    problems: list[str] = []
    cells = [found[title] for title in CLOSING]
    if cells != sorted(cells):
        problems.append(f"the closing headings are out of order: use {', '.join(CLOSING)}")
    after = [i for i in range(found["## Recap"], len(nb.cells)) if nb.cells[i].cell_type != "markdown"]
    if after:
        problems.append(f"cell(s) {after} come after '## Recap': the closing is Markdown only; move "
                        "clean-up code above the recap")
    sections = _sections(nb, found["## Recap"])
    if not sections.get("## Recap", "").strip():
        problems.append("'## Recap' is empty: sum up what the notebook showed, in a few bullets")
    answers = DETAILS.findall(sections.get("## Check yourself", ""))
    if not 2 <= len(answers) <= 4:
        problems.append(f"'## Check yourself' has {len(answers)} answered question(s): ask 2-4 "
                        "questions, each answer inside <details><summary>Answer</summary> ... </details>")
    elif not all(answer.strip() for answer in answers):
        problems.append("an answer under '## Check yourself' is empty: write it inside <details>")
    if not LINK.search(sections.get("## Going deeper", "")):
        problems.append("'## Going deeper' has no link: add the module's resources (Azure OpenAI, "
                        "Bedrock, vLLM docs, the Phi-3 page where relevant) and the tools' docs as "
                        "[text](https://...)")
    if not sections.get("## What's next", "").strip():
        problems.append("'## What's next' is empty: say which notebook comes next and why")
    return problems


def _sections(nb, start: int) -> dict[str, str]:
    """Text under each closing heading, from cell ``start`` to the end."""
    sections: dict[str, str] = {}
    current = None
    for cell in nb.cells[start:]:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            title = line.strip().replace("\u2019", "'")
            if title in CLOSING:
                current = title
                sections[current] = ""
            elif current is not None:
                sections[current] += line + "\n"
    return sections


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
def without_accounts(monkeypatch, home: Path) -> None:
    """No account of any service reachable from the kernel this process starts: no AI__*, no
    SDK key variables, no AWS profile, file or instance role (conftest clears AI__* already)."""
    from workbook.ai.settings import find_env_file

    found = find_env_file(NOTEBOOKS)
    if found is not None:
        pytest.skip(f"{found} configures accounts; the live run without accounts needs none")
    for name in list(os.environ):
        if name.startswith(("AI__", "AWS_", "AZURE_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))            # absent files
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")                    # no instance role


@pytest.mark.notebooks
@pytest.mark.parametrize("path,backend", RUNS)
def test_notebook_runs(path, backend, monkeypatch, tmp_path):
    name = f"{path.stem}-{backend}"
    cell = parameters_cell(read(path))
    parameters: dict[str, object] = {}
    if backend == "live":
        without_accounts(monkeypatch, tmp_path)
        parameters.update(LIVE_PARAMETERS.get(path.stem, {}))
    result_path = None
    if cell is not None and "RESULT_PATH" in assigned(cell):
        OUTPUT.mkdir(parents=True, exist_ok=True)
        result_path = OUTPUT / f"{name}.result.json"
        result_path.unlink(missing_ok=True)
        parameters["RESULT_PATH"] = str(result_path)
    from papermill import PapermillExecutionError

    started = time.perf_counter()
    try:
        execute(path, backend, OUTPUT, parameters=parameters)
    except PapermillExecutionError:
        # A cell tagged raises-exception (an exercise's autograded test, a TODO stub) lets the
        # run go on past its error, but papermill still reports the error at the end. Only a
        # student notebook may raise, only there, and it must have run to its last cell.
        if is_solution(path) or solution_of(path) is None:
            raise
        problems = unexpected_errors(read(OUTPUT / executed_name(path, backend)))
        assert not problems, f"{rel(path)}[{backend}]:\n  - " + "\n  - ".join(problems)
    finally:
        TIMES[f"{rel(path)}[{backend}]"] = time.perf_counter() - started
        _write_times()
    problems = executed_problems(read(OUTPUT / executed_name(path, backend)))
    assert not problems, f"{rel(path)}[{backend}], as executed:\n  - " + "\n  - ".join(problems)
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


def unexpected_errors(executed) -> list[str]:
    """What is wrong with an executed notebook that raised: an error in a cell not tagged
    ``raises-exception``, or a code cell never reached."""
    problems = []
    for index, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("execution_count") is None and cell.source.strip():
            problems.append(f"cell {index} never ran: the notebook stopped before its end")
        for output in cell.get("outputs", []):
            if output.output_type == "error" and "raises-exception" not in c_tags(cell):
                problems.append(f"cell {index} raised {output.ename}: {output.evalue} (only cells tagged "
                                "raises-exception may raise)")
    return problems


# -- what an executed notebook may not show a student ---------------------------------------
# A warning on stderr (the prose cannot have meant it), a traceback outside a cell tagged
# raises-exception, and (checked on the sources, below) an assert with no message: when it
# fails, the student sees a bare AssertionError and nothing to act on.
WARNING = re.compile(r"\b[A-Z]\w*Warning\b|^WARNING\b|\bwarnings\.warn\b", re.M)
TRACEBACK = "Traceback (most recent call last)"


def executed_problems(executed) -> list[str]:
    problems = []
    for index, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        may_raise = "raises-exception" in c_tags(cell)
        for output in cell.get("outputs", []):
            text = output.get("text", "") if output.output_type == "stream" else ""
            if output.output_type == "stream" and output.get("name") == "stderr":
                match = WARNING.search(text)
                if match:
                    line = next(line for line in text.splitlines() if match.group(0) in line)
                    problems.append(f"cell {index} printed a warning on stderr: {line.strip()[:160]!r} "
                                    "(fix its cause, or catch it and say what it means)")
            if may_raise:
                continue
            if output.output_type == "error":
                problems.append(f"cell {index} raised {output.ename}: {output.evalue[:160]} (a student "
                                "sees a traceback; only cells tagged raises-exception may raise)")
            elif TRACEBACK in text:
                problems.append(f"cell {index} printed a traceback: catch the error and show its "
                                "message (typed errors carry a hint)")
    return problems


def bare_asserts(nb) -> list[str]:
    """``assert`` statements without a message, by cell and line."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(cell.source)  # magics become plain Python
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # the notebook run reports it
        found += [f"cell {index}, line {node.lineno}: {ast.get_source_segment(source, node)[:80]}"
                  for node in ast.walk(tree) if isinstance(node, ast.Assert) and node.msg is None]
    return found


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[rel(p) for p in NOTEBOOK_PATHS])
def test_every_assert_tells_the_student_what_failed(path):
    found = bare_asserts(read(path))
    assert not found, (f"{rel(path)} has asserts without a message; add one a student understands, "
                       "e.g. `assert x > 0, \"the model answered\"`:\n  - " + "\n  - ".join(found))


LINUX_ONLY = re.compile(r"""["'](?:/proc|/sys|/dev/shm)/""")


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[rel(p) for p in NOTEBOOK_PATHS])
def test_no_cell_assumes_linux(path):
    found = [f"cell {index}: {match.group(0)}..." for index, cell in enumerate(read(path).cells)
             if cell.cell_type == "code" for match in LINUX_ONLY.finditer(cell.source)]
    assert not found, (f"{rel(path)} reads a path only Linux has (students use macOS and Windows too); "
                       "use a portable way, e.g. workbook.course.memory for memory:\n  - " + "\n  - ".join(found))


def test_the_executed_notebook_check_catches_warnings_tracebacks_and_bare_asserts():
    nb = nbformat.v4.new_notebook()
    warned = nbformat.v4.new_code_cell("import warnings; warnings.warn('x')")
    warned.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                             text="<ipython>:1: UserWarning: x\n  warnings.warn('x')\n")]
    raised = nbformat.v4.new_code_cell("1/0")
    raised.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                             traceback=[])]
    printed = nbformat.v4.new_code_cell("traceback.print_exc()")
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                              text="Traceback (most recent call last):\n  File ...\n")]
    allowed = nbformat.v4.new_code_cell("raise NotImplementedError", metadata={"tags": ["raises-exception"]})
    allowed.outputs = [nbformat.v4.new_output("error", ename="NotImplementedError", evalue="", traceback=[])]
    quiet = nbformat.v4.new_code_cell("print('fine')")
    quiet.outputs = [nbformat.v4.new_output("stream", name="stderr", text="loading model... done\n")]
    nb.cells = [warned, raised, printed, allowed, quiet]
    found = "\n".join(executed_problems(nb))
    assert "cell 0 printed a warning on stderr" in found and "UserWarning" in found, found
    assert "cell 1 raised ZeroDivisionError" in found and "cell 2 printed a traceback" in found, found
    assert "cell 3" not in found and "cell 4" not in found, f"reported a cell that did nothing wrong:\n{found}"

    nb.cells = [nbformat.v4.new_code_cell("assert x\nassert y, 'y is set'"),
                nbformat.v4.new_markdown_cell("assert not code"),
                nbformat.v4.new_code_cell("%time z = 1\nif z:\n    assert z > 1")]
    assert bare_asserts(nb) == ["cell 0, line 1: assert x", "cell 2, line 3: assert z > 1"], bare_asserts(nb)


def _write_times() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # one file per parallel worker
    (OUTPUT / f"times-{worker}.json").write_text(json.dumps(
        {k: round(v, 2) for k, v in sorted(TIMES.items())}, indent=2))


GOOD_OPENING = """# 07 Choosing a model

Some words of introduction.

**You will be able to:**
- compare two things,
- measure a third
  (a bullet may wrap onto an indented line),
- decide.

**Time:** about 20 minutes

**Before you start:** notebook 06.
"""
GOOD_CLOSING = [
    "## Recap\n\n- We measured things.",
    "## Check yourself\n\n1. Why?\n\n<details><summary>Answer</summary>\n\nBecause.\n\n</details>\n\n"
    "2. How?\n\n<details><summary>Answer</summary>By measuring.</details>",
    "## Going deeper\n\n- [vLLM docs](https://docs.vllm.ai/)",
    "## What's next\n\nNotebook 08.",
]


def course_notebook(tmp_path, name="07_choosing.ipynb", opening=GOOD_OPENING, closing=GOOD_CLOSING,
                    tail_code=False):
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "workbook": {"backends": ["mock"]}})
    nb.cells = [nbformat.v4.new_markdown_cell(opening),
                nbformat.v4.new_code_cell('BACKEND = "mock"', metadata={"tags": ["parameters"]}),
                *[nbformat.v4.new_markdown_cell(text) for text in closing]]
    if tail_code:
        nb.cells.append(nbformat.v4.new_code_cell("cleanup()"))
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_a_numbered_notebook_in_the_course_format_passes(tmp_path):
    assert convention_problems(course_notebook(tmp_path)) == []
    # a slotted-in notebook and a solution are numbered too
    primer = GOOD_OPENING.replace("# 07 Choosing", "# 00a Choosing")
    assert convention_problems(course_notebook(tmp_path, "00a_primer.ipynb", primer)) == []


def test_unnumbered_notebooks_are_not_held_to_the_course_format(tmp_path):
    assert convention_problems(course_notebook(tmp_path, "quiz.ipynb", "# Quiz", [])) == []


@pytest.mark.parametrize("opening,expected", [
    (GOOD_OPENING.replace("# 07 Choosing a model", "# Choosing a model"), "'# 07 Title'"),
    (GOOD_OPENING.replace("# 07 ", "# 08 "), "numbered 07"),
    (GOOD_OPENING.replace("**You will be able to:**", "You will:"), "'**You will be able to:**'"),
    (GOOD_OPENING.replace("- decide.\n", ""), "2 bullet(s)"),
    (GOOD_OPENING.replace("- decide.\n", "- decide,\n- a\n- b\n- c\n"), "6 bullet(s)"),
    (GOOD_OPENING.replace("**Time:** about 20 minutes", ""), "'**Time:**'"),
    (GOOD_OPENING.replace("about 20 minutes", ""), "'**Time:**' line is empty"),
    (GOOD_OPENING.replace("**Before you start:** notebook 06.", ""), "'**Before you start:**'"),
    ("**Time:** 5 minutes\n\n" + GOOD_OPENING.replace("**Time:** about 20 minutes", ""), "in this order"),
])
def test_the_opening_check_says_what_to_fix(tmp_path, opening, expected):
    found = "\n".join(convention_problems(course_notebook(tmp_path, opening=opening)))
    assert expected in found, f"not reported: {expected}\n{found}"


def test_the_opening_must_be_the_first_cell_and_markdown(tmp_path):
    path = course_notebook(tmp_path)
    nb = read(path)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import os"))
    nbformat.write(nb, path)
    assert "must be a Markdown cell" in "\n".join(convention_problems(path))


@pytest.mark.parametrize("closing,tail_code,expected", [
    (GOOD_CLOSING[1:], False, "missing: ## Recap"),
    ([GOOD_CLOSING[0], GOOD_CLOSING[2], GOOD_CLOSING[1], GOOD_CLOSING[3]], False, "out of order"),
    (GOOD_CLOSING, True, "come after '## Recap'"),
    (["## Recap\n"] + GOOD_CLOSING[1:], False, "'## Recap' is empty"),
    ([GOOD_CLOSING[0], "## Check yourself\n\n1. Why?\n\nBecause."] + GOOD_CLOSING[2:], False,
     "0 answered question(s)"),
    ([GOOD_CLOSING[0], GOOD_CLOSING[1] + 3 * "\n\n<details><summary>Answer</summary>x</details>"]
     + GOOD_CLOSING[2:], False, "5 answered question(s)"),
    ([GOOD_CLOSING[0], "## Check yourself\n\n" + 2 * "<details><summary>Answer</summary> </details>"]
     + GOOD_CLOSING[2:], False, "answer under '## Check yourself' is empty"),
    (GOOD_CLOSING[:2] + ["## Going deeper\n\nRead the vLLM docs."] + GOOD_CLOSING[3:], False, "has no link"),
    (GOOD_CLOSING[:3] + ["## What's next"], False, "'## What's next' is empty"),
])
def test_the_closing_check_says_what_to_fix(tmp_path, closing, tail_code, expected):
    found = "\n".join(convention_problems(course_notebook(tmp_path, closing=closing, tail_code=tail_code)))
    assert expected in found, f"not reported: {expected}\n{found}"


def test_asyncio_run_is_caught_as_a_call_not_as_text_in_a_script():
    assert calls_asyncio_run("import asyncio\nasyncio.run(main())")
    assert calls_asyncio_run("%time asyncio.run(main())")          # a magic: the text decides
    assert not calls_asyncio_run("script = 'asyncio.run(main())'\nawait main()")


def test_a_student_notebook_may_raise_only_in_cells_tagged_raises_exception():
    nb = nbformat.v4.new_notebook()
    test_cell = nbformat.v4.new_code_cell("report.require('round trip')", metadata={"tags": ["raises-exception"]})
    test_cell.execution_count = 2
    test_cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="✗ round trip", traceback=[])]
    plain = nbformat.v4.new_code_cell("x = 1")
    plain.execution_count = 3
    nb.cells = [test_cell, plain]
    assert unexpected_errors(nb) == []
    plain.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=[])]
    unreached = nbformat.v4.new_code_cell("y = 2")
    nb.cells.append(unreached)
    found = "\n".join(unexpected_errors(nb))
    assert "cell 1 raised NameError" in found and "cell 2 never ran" in found
