"""A Unix account per student: the only thing that keeps one student's processes and files
from another's.

As The Littlest JupyterHub gives each user a Unix account of their own (``jupyter-<name>``),
the hub name ``student3`` runs as the system account ``wb-student3``: a prefix no real
account uses, so the classroom never adopts, changes or deletes someone's own login. Each
home is mode 700 and owned by its student. The hub (root) creates the accounts, sets their
passwords through ``chpasswd`` (on its standard input: a command line is visible to every
local user) and, at the end, ends every process of each account by its uid -- an environment
marker is something a student's process can drop; the uid it cannot.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from .errors import ClassroomError

PREFIX = "wb-"
COMMAND_TIMEOUT_S = 60


def system_name(hub_name: str, prefix: str = PREFIX) -> str:
    """The Unix account behind a hub name (``student3`` -> ``wb-student3``)."""
    return f"{prefix}{hub_name}"


def uid_of(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _run(command: list[str], *, stdin: str | None = None) -> None:
    for attempt in range(20):
        try:
            done = subprocess.run(command, input=stdin, capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT_S)
        except FileNotFoundError:
            raise ClassroomError(f"{command[0]} is missing: a class needs the system's user tools "
                                 "(Debian/Ubuntu: the passwd package)") from None
        # Another useradd/userdel/chpasswd holds /etc/passwd's lock (two classes starting at once).
        if done.returncode == 0 or "lock" not in done.stderr.lower():
            break
        time.sleep(0.25 * (attempt + 1))
    if done.returncode != 0:
        raise ClassroomError(f"{command[0]} {command[-1]} failed: {done.stderr.strip()[:300]}")


def ensure_account(name: str, home_root: Path) -> bool:
    """Create the account (own group, home mode 700) unless it exists; True if created here."""
    created = False
    if uid_of(name) is None:
        home_root.mkdir(parents=True, exist_ok=True)
        _run(["useradd", "--create-home", "--home-dir", str(home_root / name), "--user-group",
              "--shell", "/bin/bash", "--comment", "workbook classroom student", name])
        created = True
    account = pwd.getpwnam(name)
    if account.pw_uid == 0:
        raise ClassroomError(f"the account {name} has uid 0: a student must never be root")
    home = Path(account.pw_dir)
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, account.pw_uid, account.pw_gid)
    os.chmod(home, 0o700)
    return created


def set_password(name: str, password: str) -> None:
    _run(["chpasswd"], stdin=f"{name}:{password}\n")


def processes_of(uid: int) -> list[int]:
    """Pids whose real, effective, saved or filesystem uid is ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                if str(uid) in line.split()[1:]:
                    found.append(int(entry.name))
                break
    return found


def end_processes_of(uid: int, timeout_s: float = 5.0) -> list[int]:
    """SIGKILL every process of ``uid`` until none is left (a process may fork while we look);
    returns what is still there after ``timeout_s`` (nothing, unless the kernel refuses)."""
    if uid == 0:
        raise ClassroomError("refusing to end the processes of uid 0")
    deadline = time.monotonic() + timeout_s
    while True:
        pids = processes_of(uid)
        if not pids or time.monotonic() > deadline:
            return pids
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def remove_account(name: str, prefix: str = PREFIX) -> None:
    """End the account's processes, then delete it and its home."""
    if not name.startswith(prefix):
        raise ClassroomError(f"refusing to delete {name}: the classroom deletes only {prefix}* accounts")
    uid = uid_of(name)
    if uid is None:
        return
    end_processes_of(uid)
    _run(["userdel", "--remove", name])
