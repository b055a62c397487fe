"""One real classroom for the module that asks for it: JupyterHub with its proxy, the gateway
and llama-server, on loopback, 3 students, at most 1 request in flight each (so the limit is
cheap to reach). Stopped afterwards, and nothing it started may be left running."""

from __future__ import annotations

import pytest

from workbook.classroom.hub import Classroom
from workbook.probe import free_port


@pytest.fixture(scope="module")
def room(tmp_path_factory, llama_server_binary):
    room = Classroom(students=3, port=free_port(), state=tmp_path_factory.mktemp("classroom") / "state",
                     per_student=1, parallel=4, threads=1, n_ctx=512, poll_interval_s=1,
                     progress=None)
    room.start()
    try:
        yield room
    finally:
        room.stop()
        left = room.leftovers()
        assert not left, f"processes the classroom started are still running: {left}"
