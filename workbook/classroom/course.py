"""Each student's own copy of the course, made when their server starts.

As nbgitpuller distributes a course: a file the student does not have yet is copied in; a
file they already have is never touched, so their work survives a restart and a new notebook
the instructor adds still arrives. Solutions stay behind. In the copy, the notebooks'
``parameters`` cell says ``BACKEND = "live"``: in the hub, "live" is the class's shared model
(the server's ``AI__*`` variables point the workbook at it).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parents[2] / "notebooks"
FOLDER = "notebooks"
CLASSROOM_BACKEND = "live"
_BACKEND_LINE = re.compile(r'^BACKEND\s*=\s*["\'][a-z]+["\']', re.MULTILINE)


def with_backend(notebook: dict, backend: str = CLASSROOM_BACKEND) -> dict:
    """``notebook`` with ``BACKEND = backend`` in its ``parameters`` cell (if it has one)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            changed = _BACKEND_LINE.sub(
                f'BACKEND = "{backend}"  # in the classroom: the class\'s shared model', source, count=1)
            cell["source"] = changed.splitlines(keepends=True)
            break
    return notebook


def copy_into(home: Path, course: Path = COURSE) -> list[Path]:
    """Copy what ``home/notebooks`` lacks from ``course``; returns the files copied."""
    target = home / FOLDER
    copied = []
    for source in sorted(course.rglob("*")):
        relative = source.relative_to(course)
        if source.is_dir() or relative.parts[0] in ("solutions", ".ipynb_checkpoints"):
            continue
        destination = target / relative
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".ipynb":
            notebook = with_backend(json.loads(source.read_text(encoding="utf-8")))
            destination.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
        else:
            shutil.copy2(source, destination)
        copied.append(destination)
    return copied


def main(argv: list[str] | None = None) -> int:
    """``python -m workbook.classroom.course HOME``: what a student's server runs (as the
    student) before it starts."""
    home = Path((argv if argv is not None else sys.argv[1:])[0])
    copied = copy_into(home)
    print(f"Copied {len(copied)} course file(s) into {home / FOLDER}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
