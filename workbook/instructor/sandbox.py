"""The grading kernel's sandbox: a submitted notebook may write only in its own folder.

``install()`` adds an audit hook (``sys.addaudithook``, PEP 578) that refuses, with
``PermissionError``, every write outside the allowed folders -- ``open`` for writing (``open``,
``pathlib.Path.write_text``, ``shutil.copy``...), removing, renaming, making folders, links,
permissions -- and every new process except this Python itself (``os.system``, a shell,
``subprocess`` of another program). It also refuses reading where the instructor's credentials
live (``WORKBOOK_SANDBOX_PRIVATE``: ``~/.aws``, the repository's ``.env``...; other processes'
``/proc/*/environ``). Each refusal is also recorded in a log the grader reads
afterwards: a notebook that tried is graded 0, even if it caught the error.

The grader installs it in the kernel only, at start-up, through an IPython profile
(``IPYTHONDIR`` pointing at a folder whose ``profile_default/startup`` runs ``install()``), so
nbgrader and the kernel machinery around it are untouched. A Python child of the kernel (notebook
12 starts ``python -m llama_cpp.server``) inherits the same sandbox through ``sitecustomize``.

The allowed folders are the kernel's working folder at start-up (the submission's copy) and
``WORKBOOK_SANDBOX_TMP`` (its ``TMPDIR``). Paths are resolved (``..`` and symlinks) before they
are compared, so ``/tmp/../root/x`` is ``/root/x``. An audit hook cannot be removed, but it is no
security boundary against code that goes around Python (ctypes): it stops a notebook that
writes where it should not, by mistake or on purpose, not a determined attacker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOTS_VARIABLE = "WORKBOOK_SANDBOX_ROOTS"   # os.pathsep-separated folders writes may go to
LOG_VARIABLE = "WORKBOOK_SANDBOX_LOG"       # where refusals are recorded, one per line
TMP_VARIABLE = "WORKBOOK_SANDBOX_TMP"
PRIVATE_VARIABLE = "WORKBOOK_SANDBOX_PRIVATE"  # os.pathsep-separated files and folders not to read

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# event -> positions of the path arguments it writes to
_PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1),
    "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,),
    "os.symlink": (1,), "os.link": (1,), "os.chflags": (0,), "os.setxattr": (0,),
    "os.removexattr": (0,), "shutil.copyfile": (1,), "shutil.copytree": (1,),
    "shutil.rmtree": (0,), "shutil.move": (0, 1), "shutil.chown": (0,),
}
_PROCESS_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                   "pty.spawn")
_installed = False


def allowed(path, roots: list[str], cwd: str | None = None) -> bool:
    """Whether writing ``path`` (relative to ``cwd``) stays inside one of ``roots``; writing
    to ``/dev/null`` (``subprocess.DEVNULL``) is harmless."""
    text = os.fsdecode(path)
    resolved = os.path.realpath(os.path.join(cwd or os.getcwd(), text))
    if resolved == os.devnull:
        return True
    return any(resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def private_paths(home: str, repository: str) -> list[str]:
    """Where the instructor's credentials live: a kernel reads none of them (what it reads could
    end up in a feedback page the student gets)."""
    return [os.path.join(repository, ".env"),
            *(os.path.join(home, name) for name in (".aws", ".azure", ".ssh", ".netrc", ".git-credentials",
                                                   ".docker", ".config/gcloud", ".config/gh", ".kube"))]


def _is_private(resolved: str, private: list[str]) -> bool:
    if resolved.startswith("/proc/") and resolved.endswith("/environ"):
        return True  # another process's environment: the grader's holds the instructor's variables
    return any(resolved == p or resolved.startswith(p.rstrip(os.sep) + os.sep) for p in private)


def install(roots: list[str] | None = None, log_path: str | None = None) -> None:
    """Add the audit hook to this process (once). ``roots`` default to the working folder and
    ``$WORKBOOK_SANDBOX_TMP``; they are also exported, with the log, for Python children."""
    global _installed
    if _installed:
        return
    if roots is None:
        roots = [p for p in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if p]
        roots = roots or [os.getcwd(), os.environ.get(TMP_VARIABLE, "")]
    roots = [os.path.realpath(r) for r in roots if r]
    log_path = log_path or os.environ.get(LOG_VARIABLE)
    private = [os.path.realpath(p) for p in os.environ.get(PRIVATE_VARIABLE, "").split(os.pathsep) if p]
    # Opened before the hook exists: the hook reports through this descriptor (os.write is
    # not audited), so recording a refusal never needs a write the hook would refuse.
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if log_path else None
    os.environ[ROOTS_VARIABLE] = os.pathsep.join(roots)
    if log_path:
        os.environ[LOG_VARIABLE] = log_path
    site = str(Path(__file__).with_name("sandbox_site"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [site, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != site]])
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    python = os.path.realpath(sys.executable)

    def refuse(what: str) -> None:
        if log_fd is not None:
            os.write(log_fd, (what.replace("\n", " ") + "\n").encode("utf-8", "replace"))
        raise PermissionError(f"The grader's sandbox refused {what}: a graded notebook may only "
                              "write inside its own folder and start no other program.")

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            writes = (any(c in mode for c in "wax+") if isinstance(mode, str)
                      else bool((flags or 0) & _WRITE_FLAGS))
            resolved = os.path.realpath(os.fsdecode(path))
            if writes and not allowed(path, roots):
                refuse(f"writing {resolved}")
            if _is_private(resolved, private):
                refuse(f"reading {resolved}, where credentials are kept")
        elif event in _PATH_EVENTS:
            for index in _PATH_EVENTS[event]:
                path = args[index] if index < len(args) else None
                if event == "os.mkdir" and isinstance(path, (str, bytes, os.PathLike)) and os.path.isdir(path):
                    continue  # os.makedirs(..., exist_ok=True) on a folder that exists changes nothing
                if isinstance(path, (str, bytes, os.PathLike)) and not allowed(path, roots):
                    refuse(f"{event} on {os.path.realpath(os.fsdecode(path))}")
        elif event == "subprocess.Popen":
            executable, arguments, _cwd, env = args
            program = executable or (arguments[0] if isinstance(arguments, (list, tuple)) and arguments
                                     else arguments)
            same_python = (program is not None and os.path.realpath(os.fsdecode(program)) == python)
            inherits = env is None or ROOTS_VARIABLE in env
            if not (same_python and inherits):
                refuse(f"starting {os.fsdecode(program) if program is not None else 'a program'}")
        elif event.startswith(_PROCESS_EVENTS):
            refuse(f"{event} ({os.fsdecode(args[0]) if args and isinstance(args[0], (str, bytes)) else ''})")

    sys.addaudithook(hook)
    _installed = True


def violations(log_path: Path) -> list[str]:
    """The refusals recorded in ``log_path`` (none if it is missing)."""
    if not log_path.exists():
        return []
    return [line for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line]


STARTUP = "from workbook.instructor.sandbox import install\ninstall()\n"


def profile(ipythondir: Path) -> Path:
    """An IPython directory whose default profile installs the sandbox when a kernel starts."""
    startup = ipythondir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-workbook-sandbox.py").write_text(STARTUP, encoding="utf-8")
    return ipythondir
