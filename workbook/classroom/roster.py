"""The class list: one password per student, for the instructor's eyes only.

``STATE/roster.csv`` (mode 600, in a folder only root may enter) holds ``username,password``
per line. An instructor may write it before the first start to choose the passwords; a
student missing from it gets a generated one. The passwords are set on the students' Unix
accounts (PAM checks them at login) and printed once, as slips to cut and hand out.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from pathlib import Path

from .errors import ClassroomError

# No 0/O, 1/l/I: a password read off a paper slip is typed right the first time.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_password() -> str:
    """12 characters (about 59 bits) in three groups of four: easy to copy, hard to guess."""
    letters = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return "-".join(letters[i:i + 4] for i in range(0, 12, 4))


def read_roster(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    passwords = {}
    for number, row in enumerate(csv.reader(io.StringIO(path.read_text())), start=1):
        if not row or row[0].strip().lower() in ("", "username"):
            continue
        if len(row) != 2 or not row[1].strip():
            raise ClassroomError(f"{path} line {number}: expected username,password")
        passwords[row[0].strip()] = row[1].strip()
    return passwords


def ensure_roster(path: Path, usernames: list[str]) -> tuple[dict[str, str], list[str]]:
    """Every student's password (the file's, or a new one); returns them and the names that
    got a new password this time."""
    passwords = read_roster(path)
    new = [name for name in usernames if name not in passwords]
    for name in new:
        passwords[name] = new_password()
    if new or not path.exists():
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(passwords.items())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text.getvalue())
    os.chmod(path, 0o600)
    return {name: passwords[name] for name in usernames}, new


def slips(url: str, passwords: dict[str, str], fingerprint: str | None = None) -> str:
    """One block per student, separated by scissors lines."""
    cut = "- " * 30 + "✂"
    blocks = []
    for name, password in passwords.items():
        lines = [f"  open      {url}", f"  username  {name}", f"  password  {password}"]
        if fingerprint:
            lines.append(f"  the browser warns about the certificate: its SHA-256 must be {fingerprint}")
        blocks.append("\n".join(lines))
    return f"\n{cut}\n".join(["", *blocks, ""])
