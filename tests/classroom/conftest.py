"""One real classroom for each module that asks for it, started as a class is: as root, with
SIGINT ignored as a background job inherits it (``background_job.py``), each of its 3 students
a Unix account of their own, served over HTTPS with a certificate it makes (on loopback:
``https=True``), at most 1 request in flight each (so the limit is cheap to reach). Stopped afterwards -- nothing it started, nor any process of a student account, may
be left running -- and its accounts and homes removed, also when a test failed.

The accounts get a prefix of their own per module (``wbt1a2b-student1``), so two classes
started at once on this machine (two test workers) never share an account.
"""

from __future__ import annotations

import os
import secrets

import pytest

from workbook.classroom.accounts import uid_of
from workbook.classroom.hub import Classroom
from workbook.ports import free_port

from background_job import sigint_ignored


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI runs as root, and a class needs root (a Unix account per student)")
        pytest.skip("a class needs root: it creates a Unix account per student")


@pytest.fixture(scope="module")
def as_root() -> None:
    """A class's tests run as root (skipped otherwise, failed on CI)."""
    require_root()


@pytest.fixture(scope="module")
def room(tmp_path_factory, llama_server_binary, as_root):
    room = Classroom(students=3, port=free_port(), state=tmp_path_factory.mktemp("classroom") / "state",
                     per_student=1, parallel=4, threads=1, n_ctx=512, poll_interval_s=1, https=True,
                     account_prefix=f"wbt{secrets.token_hex(2)}-", progress=None)
    try:
        with sigint_ignored():
            room.start()
        yield room
    finally:
        room.stop()
        left = room.leftovers()
        removed = room.remove_accounts()
        still = [name for name in removed if uid_of(name) is not None]
        assert not left, f"processes the classroom started are still running: {left}"
        assert not still, f"accounts left behind: {still}"
        assert not any(room.home(student).exists() for student in room.usernames), "homes left behind"


