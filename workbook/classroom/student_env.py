"""The Python environment the students' servers and kernels run: theirs to run, not to change.

The Littlest JupyterHub keeps one user environment, owned by root, that every user runs
(``/opt/tljh/user``). Here that is the workbook's own virtualenv, with one difficulty: a
virtualenv's interpreter is a link to the Python it was made from, and that Python may live
in root's home (pyenv's ``/root/.pyenv``, mode 700), which no student can enter. So the
students get a small virtualenv of their own, made (as root, read-only to them) from an
interpreter of the same version that their accounts *can* run, whose only package path is
the workbook virtualenv's ``site-packages`` (added by a ``.pth`` file, so its own ``.pth``
files -- the editable install of the workbook among them -- work as in the original). Its
``share/jupyter`` and ``etc/jupyter`` are links to the original's, so JupyterLab finds its
assets and extensions. Checked by running it as a student before the hub starts.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from .errors import ClassroomError

FOLDER = "classroom-student-python"
# What a student's server imports first; if this runs as the student, so does their server.
SMOKE = "import jupyterhub.singleuser, jupyterlab, ipykernel, workbook.ai, llama_cpp"
CHECK_TIMEOUT_S = 120


def _version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _candidates() -> list[str]:
    """Interpreters of this Python's version: the one the virtualenv was made from first."""
    version = _version()
    found = [os.path.realpath(getattr(sys, "_base_executable", sys.executable))]
    for folder in ("/usr/bin", "/usr/local/bin", "/opt/python/bin"):
        found.append(f"{folder}/python{version}")
    return [path for index, path in enumerate(found)
            if os.path.isfile(path) and path not in found[:index]]


def run_as(uid: int, gid: int, command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``command`` as that account (no supplementary groups), the way the hub starts a server."""
    return subprocess.run(command, user=uid, group=gid, extra_groups=[], capture_output=True,
                          text=True, timeout=kwargs.pop("timeout", CHECK_TIMEOUT_S),
                          env={"PATH": "/usr/bin:/bin", "HOME": "/", **kwargs.pop("env", {})},
                          cwd="/", **kwargs)


def _runs_as(python: str, uid: int, gid: int, code: str = "import sys") -> str | None:
    """None if ``python -c code`` works as the account, else why not."""
    try:
        done = run_as(uid, gid, [python, "-c", code])
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]


def ensure_student_python(uid: int, gid: int) -> Path:
    """The students' interpreter (``<venv>/classroom-student-python/bin/python``), made once."""
    target = Path(sys.prefix) / FOLDER
    with open(Path(sys.prefix) / f".{FOLDER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two classes (or test workers) starting at once
        return _ensure(target, uid, gid)


def _ensure(target: Path, uid: int, gid: int) -> Path:
    python = target / "bin" / "python"
    site_packages = Path(sysconfig.get_paths()["purelib"])
    why = _runs_as(str(python), uid, gid, SMOKE) if python.exists() else "not made yet"
    if why is None:
        return python
    base = next((path for path in _candidates() if _runs_as(path, uid, gid) is None), None)
    if base is None:
        raise ClassroomError(
            f"no Python {_version()} on this machine can be run by a student account (tried "
            f"{', '.join(_candidates())}; the virtualenv's own is inside a folder only its owner may "
            f"enter): install python{_version()} for all users (Debian/Ubuntu: apt install "
            f"python{_version()}-venv) and run again")
    shutil.rmtree(target, ignore_errors=True)
    done = subprocess.run([base, "-m", "venv", "--without-pip", str(target)], capture_output=True,
                          text=True, timeout=CHECK_TIMEOUT_S)
    if done.returncode != 0:
        raise ClassroomError(f"could not make the students' Python from {base}: {done.stderr.strip()[-300:]}")
    own = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip())
    # addsitedir, not a bare path: the workbook virtualenv's own .pth files must run too.
    (own / "workbook-classroom.pth").write_text(f"import site; site.addsitedir({str(site_packages)!r})\n")
    for name in ("share", "etc"):
        original = Path(sys.prefix) / name / "jupyter"
        if original.is_dir():
            (target / name).mkdir(exist_ok=True)
            (target / name / "jupyter").symlink_to(original)
    for path in [target, *target.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, 0, 0)
            os.chmod(path, 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    why = _runs_as(str(python), uid, gid, SMOKE)
    if why is not None:
        closed = closed_folder(site_packages) or closed_folder(Path(__file__))
        raise ClassroomError(f"a student account cannot run the workbook's environment ({why})"
                             + (f": {closed} is closed to other users; put the workbook where every "
                                "account may read it (not under /root)" if closed else ""))
    return python


def closed_folder(path: Path) -> Path | None:
    """The first folder above ``path`` that other users may not enter, if any."""
    for folder in reversed(Path(path).resolve().parents):
        if not folder.stat().st_mode & 0o001:
            return folder
    return None
