"""Where the course's notebooks are, their order, and where an exercise's solution is kept.

``COURSE`` is the course's order, said once: notebook 00's table and ``notebooks/README.md``'s
table are both rendered from it (``course_table()``; ``python -m workbook.course.notebooks``
prints it), and a test holds it to the notebooks on disk. Each notebook's time is read from its
own ``**Time:**`` line, so the table and the notebook cannot disagree: ``about 40 minutes`` is the
whole notebook, and ``20 on the core path`` (when a notebook has sections marked *optional*) is
what the core path spends in it. ``OBJECTIVES`` says which notebooks teach each of the module's
objectives, so the core path can be checked to meet every one.

An exercise ``notebooks/<stem>.ipynb`` has its solution at
``notebooks/solutions/<stem>_solution.ipynb``: ``make release`` writes it there, the notebook
tests and the course site find it there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


@dataclass(frozen=True)
class Lesson:
    stem: str
    topic: str
    core: bool        # on the core path: together the core lessons meet every objective of the module


COURSE = (
    Lesson("00_start_here", "what the module covers, environment check, provider picker, chat panel", True),
    Lesson("00a_asyncio_primer", "`await`, `async for`, top-level `await` vs `asyncio.run`, "
                                 "`asyncio.gather` (skip it if you write async Python already)", False),
    Lesson("01_api_services_azure_openai", "cloud APIs: Azure OpenAI and OpenAI", True),
    Lesson("02_aws_bedrock", "cloud APIs: AWS Bedrock, the Converse API", False),
    Lesson("03_self_hosting", "self-hosting: vLLM, Ollama, LM Studio, llama.cpp server", True),
    Lesson("04_provider_abstraction", "one provider abstraction: Protocol + Factory", True),
    Lesson("05_configuration", "switching providers by configuration: `AI__*` variables, `.env`", True),
    Lesson("06_small_language_models", "small language models, SmolLM2 measured", False),
    Lesson("06a_structured_output", "structured output: `response_format=`, prompt-only vs "
                                    "schema-enforced, measured", False),
    Lesson("07_model_selection", "API vs self-hosted: cost and break-even", True),
    Lesson("08_fine_tuning_considerations", "prompting, retrieval and fine-tuning on the same labelled data, measured", True),
    Lesson("09_exercise_ollama_provider", "exercise: write an Ollama provider (core part; "
                                          "stretch goals optional)", True),
    Lesson("10_exercise_bedrock", "exercise: Bedrock end to end", False),
    Lesson("11_bonus_compare_providers", "bonus: compare providers", False),
    Lesson("12_exercise_lmstudio", "exercise: LM Studio, and adapting the OpenAI provider to "
                                   "another server", False),
    Lesson("quiz", "the module quiz (15 questions, scenarios included)", True),
)

# The module's objectives (00's opening paragraph) and the notebooks that teach each one.
OBJECTIVES = {
    "call a cloud API (Azure OpenAI, OpenAI, Bedrock)": ("01", "02"),
    "host a model yourself (llama.cpp, vLLM, Ollama, LM Studio)": ("03", "12"),
    "one provider abstraction: a Protocol and a factory": ("04",),
    "switch providers by configuration": ("05",),
    "decide API vs self-hosted, by cost": ("07",),
    "decide on prompting, retrieval or fine-tuning": ("08",),
    "write a provider of your own": ("09", "10", "12"),
}
CORE_BUDGET_MINUTES = 4 * 60   # the promise: the core path in at most four hours

_TIME = re.compile(r"\*\*Time:\*\*\s*about\s+(\d+)\s+minutes")
_CORE_TIME = re.compile(r"\*\*Time:\*\*[^\n]*?(\d+)\s+(?:minutes\s+)?on the core path")


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """Numbered notebooks in file-name order (00, 00a, 01, …), then the unnumbered ones (the quiz)."""
    found = [p for p in folder.glob("*.ipynb") if not p.name.startswith(".")]
    return sorted(found, key=lambda p: (not p.name[:2].isdigit(), p.name))


def _opening(notebook: Path) -> str:
    if not notebook.exists():   # a folder holding only part of the course (a student's copy)
        return ""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "".join(cells[0]["source"]) if cells else ""


def minutes(notebook: Path) -> int | None:
    """The minutes a notebook's opening cell states (``**Time:** about N minutes``); ``None`` when it states none."""
    found = _TIME.search(_opening(notebook))
    return int(found.group(1)) if found else None


def core_minutes_of(notebook: Path) -> int | None:
    """What the core path spends in a notebook: ``N on the core path`` when its Time line says so
    (its other sections are marked optional), else all of it."""
    found = _CORE_TIME.search(_opening(notebook))
    return int(found.group(1)) if found else minutes(notebook)


def course_table(folder: Path = NOTEBOOKS) -> str:
    """The course in order as a Markdown table: core or optional, minutes (all of it, and the core
    path's part), and the core path's running total (an optional notebook adds nothing to it)."""
    rows = ["| # | notebook | topic | path | time | on the core path | core path so far |",
            "|---|---|---|---|---|---|---|"]
    total = 0
    for lesson in COURSE:
        path = folder / f"{lesson.stem}.ipynb"
        stated, core = minutes(path), core_minutes_of(path)
        number = lesson.stem.split("_")[0] if lesson.stem[:2].isdigit() else "—"
        name = f"`{path.name}`" + (" (+ `solutions/`)" if (folder / "solutions" / f"{lesson.stem}_solution.ipynb").exists() else "")
        if lesson.core:
            total += core or 0
        time = f"{stated} min" if stated else "—"
        on_core = (f"{core} min" if core else "—") if lesson.core else ""
        rows.append(f"| {number} | {name} | {lesson.topic} | {'core' if lesson.core else 'optional'} | "
                    f"{time} | {on_core} | {hours(total) if lesson.core else ''} |")
    return "\n".join(rows)


def core_minutes(folder: Path = NOTEBOOKS) -> int:
    """The whole core path, in minutes: each core notebook's core part."""
    return sum(core_minutes_of(folder / f"{lesson.stem}.ipynb") or 0 for lesson in COURSE if lesson.core)


def objectives_table() -> str:
    """Each objective of the module, and the core notebooks that meet it."""
    core = {lesson.stem.split("_")[0] for lesson in COURSE if lesson.core}
    rows = ["| objective | on the core path in | also in (optional) |", "|---|---|---|"]
    for goal, where in OBJECTIVES.items():
        on_core = ", ".join(n for n in where if n in core) or "**none**"
        rows.append(f"| {goal} | {on_core} | {', '.join(n for n in where if n not in core)} |")
    return "\n".join(rows)


def hours(total: int) -> str:
    return f"{total // 60} h {total % 60:02d} min" if total >= 60 else f"{total} min"


def solution_path(exercise: Path) -> Path:
    return exercise.parent / "solutions" / f"{exercise.stem}_solution.ipynb"


def solution_of(notebook: Path) -> Path | None:
    """The solution of an exercise; ``None`` for any other notebook (a solution included)."""
    if notebook.parent.name == "solutions":
        return None
    candidate = solution_path(notebook)
    return candidate if candidate.exists() else None


if __name__ == "__main__":
    print(course_table())
