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

Where the checkout itself is closed to other users (a clone under ``/root``, as CI makes), the
students cannot read the workbook's packages, its source or the course where they are. Then
what they run comes from a copy in ``/var/lib/workbook-classroom/<fingerprint>/`` (root's, every
account may read it, none may change it): the virtualenv's ``site-packages``, ``share/jupyter``
and ``etc/jupyter``, and the workbook's source with its ``notebooks/`` and the checkout's top-level
files (dot files such as ``.env`` excepted) -- files hard-linked where
they can be (the same disk: no space, no time), made once per state of the checkout and the
virtualenv (the fingerprint covers their files' sizes and times).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from .errors import ClassroomError

FOLDER = "classroom-student-python"
SHARED_COPIES = Path("/var/lib/workbook-classroom")
CHECKOUT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("workbook", "notebooks")  # what a student's server and its course copy read


def _source_files() -> list[Path]:
    """The checkout's files a student's server reads: the two folders, and the top-level files
    the workbook finds beside itself (``requirements-vllm.lock``...); never a dot file (``.env``)."""
    files = [path for path in CHECKOUT.iterdir() if path.is_file() and not path.name.startswith(".")]
    for folder in SOURCE_FOLDERS:
        files += [path for path in (CHECKOUT / folder).rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts]
    return sorted(files)
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
    """The students' interpreter (``<venv>/classroom-student-python/bin/python``, or in the
    shared copy when the checkout is closed to them), made once."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    if closed_folder(site_packages) is None and closed_folder(CHECKOUT / "workbook") is None:
        with open(Path(sys.prefix) / f".{FOLDER}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two classes (or test workers) starting at once
            return _ensure(Path(sys.prefix) / FOLDER, uid, gid, site_packages, Path(sys.prefix), source=None)
    SHARED_COPIES.mkdir(parents=True, exist_ok=True)
    os.chmod(SHARED_COPIES, 0o755)
    with open(SHARED_COPIES / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        copy = _shared_copy(site_packages)
        return _ensure(copy / FOLDER, uid, gid, copy / "site-packages", copy, source=copy / "src")


def _fingerprint(site_packages: Path) -> str:
    """Changes when the virtualenv gains or loses a package, or a file of the source changes."""
    digest = hashlib.sha256(f"{sys.prefix}\0{CHECKOUT}\0{site_packages.stat().st_mtime_ns}".encode())
    for name in sorted(os.listdir(site_packages)):
        digest.update(f"{name}\0{(site_packages / name).stat().st_mtime_ns}\0".encode())
    for path in _source_files():
        info = path.stat()
        digest.update(f"{path.relative_to(CHECKOUT)}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def _link_or_copy(source: str, destination: str) -> None:
    """A hard link where the file is already readable by all (the same file, no space taken);
    a copy made readable otherwise (chmod on a link would change the original too)."""
    if os.stat(source).st_mode & 0o004:
        try:
            os.link(source, destination)
            return
        except OSError:
            pass  # another disk, or a file system without hard links
    shutil.copy2(source, destination)
    os.chmod(destination, 0o755 if os.access(source, os.X_OK) else 0o644)


def _shared_copy(site_packages: Path) -> Path:
    """``SHARED_COPIES/<fingerprint>``: what the students read of a closed checkout, made once."""
    target = SHARED_COPIES / _fingerprint(site_packages)
    if (target / ".complete").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", FOLDER, ".ipynb_checkpoints")
    copy = lambda source, destination: shutil.copytree(  # noqa: E731
        source, destination, symlinks=True, ignore=ignore, copy_function=_link_or_copy)
    copy(site_packages, partial / "site-packages")
    for name in ("share/jupyter", "etc/jupyter"):
        if (Path(sys.prefix) / name).is_dir():
            copy(Path(sys.prefix) / name, partial / name)
    for name in SOURCE_FOLDERS:
        copy(CHECKOUT / name, partial / "src" / name)
    for path in _source_files():
        if path.parent == CHECKOUT:
            _link_or_copy(str(path), str(partial / "src" / path.name))
    for folder in [partial, *(path for path in partial.rglob("*") if path.is_dir() and not path.is_symlink())]:
        os.chown(folder, 0, 0)
        os.chmod(folder, 0o755)
    (partial / ".complete").write_text(f"{sys.prefix}\n{CHECKOUT}\n")
    partial.rename(target)
    return target


def _ensure(target: Path, uid: int, gid: int, site_packages: Path, prefix: Path, *,
            source: Path | None) -> Path:
    """The students' virtualenv in ``target``, importing ``site-packages`` (and the workbook
    from ``source`` when it is a copy), with ``prefix``'s Jupyter data and settings."""
    python = target / "bin" / "python"
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
    # addsitedir, not a bare path: the workbook virtualenv's own .pth files must run too. The
    # copied source goes first: the editable install's finder would look in the closed checkout.
    (own / "workbook-classroom.pth").write_text(
        (f"{source}\n" if source else "") + f"import site; site.addsitedir({str(site_packages)!r})\n")
    for name in ("share", "etc"):
        original = prefix / name / "jupyter"
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
