"""The nbgrader course: where its source lives, its configuration, and a course folder to work in.

The source is authored once under ``exercises/`` (nbgrader's layout: ``source/<stem>/<stem>.ipynb``,
one assignment per exercise, named like its notebook; ``nbgrader_config.py`` beside it). nbgrader
keeps a gradebook database and writes ``release/``, ``submitted/``, ``autograded/`` and ``feedback/``
beside the source: every command here builds that course folder in a temporary directory, so
the repository holds only the source and what is generated from it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from ..course.notebooks import ROOT

EXERCISES = ROOT / "exercises"
SOURCE = EXERCISES / "source"
CONFIG_FILE = EXERCISES / "nbgrader_config.py"


def assignments() -> list[str]:
    """Every exercise in the source: ``source/<stem>/<stem>.ipynb``."""
    return sorted(folder.name for folder in SOURCE.iterdir()
                  if (folder / f"{folder.name}.ipynb").is_file())


def load_config(**overrides):
    """nbgrader's configuration from ``exercises/nbgrader_config.py``, plus ``overrides``
    (``{"Execute": {"timeout": 30}}``)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    config.merge(Config(overrides))
    return config


def course_api(root: Path, config):
    """nbgrader's own API on a course folder ``root`` (holding ``source/``)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    # nbgrader runs the `alembic` command to set up its gradebook: the venv's, even when this
    # runs as .venv/bin/python without the venv activated.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    coursedir = CourseDirectory(root=str(root), config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api


def copy_source(root: Path) -> None:
    shutil.copytree(SOURCE, root / "source", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))


def check(result: dict, what: str) -> None:
    """nbgrader's API answers ``{"success": ..., "log": ..., "error": ...}``: fail loudly."""
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not {what}:\n{result.get('log', '')}{result.get('error', '')}")
