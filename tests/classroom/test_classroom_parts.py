"""The classroom's pieces that need no hub: usage kept across a restart, the course copy, the
gateway's idea of the model API, the roster, the certificate, the TLS options."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from workbook.classroom.course import copy_into, with_backend
from workbook.classroom.errors import ClassroomError
from workbook.classroom.gateway import Gateway
from workbook.classroom.hub import Classroom
from workbook.classroom.roster import ensure_roster, slips
from workbook.classroom.tls import fingerprint, is_loopback, self_signed
from workbook.classroom.usage import UsageStore
from workbook.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_usage_survives_reopening_the_file(tmp_path):
    store = UsageStore(tmp_path / "usage.sqlite")
    store.record("student1", input_tokens=12, output_tokens=30, seconds=0.5)
    store.record("student1", input_tokens=8, output_tokens=10, seconds=0.25)
    store.refused("student2")
    store.close()

    reopened = UsageStore(tmp_path / "usage.sqlite").totals()
    assert reopened["student1"] == {"requests": 2, "input_tokens": 20, "output_tokens": 40,
                                    "seconds": 0.75, "refused": 0}
    assert reopened["student2"]["requests"] == 0 and reopened["student2"]["refused"] == 1


def test_course_copy_sets_live_backend_keeps_student_work_and_leaves_solutions(tmp_path):
    course = ROOT / "notebooks"
    home = tmp_path / "student1"
    copied = copy_into(home, course)
    names = {path.relative_to(home / "notebooks").as_posix() for path in copied}
    assert "00_start_here.ipynb" in names
    assert not any(name.startswith("solutions/") for name in names), "solutions stay with the instructor"

    start = json.loads((home / "notebooks" / "00_start_here.ipynb").read_text())
    parameters = next(cell for cell in start["cells"] if "parameters" in cell["metadata"].get("tags", []))
    assert 'BACKEND = "live"' in "".join(parameters["source"])

    # A student's edit survives the next server start; a file they deleted comes back.
    mine = home / "notebooks" / "00_start_here.ipynb"
    mine.write_text('{"my": "work"}')
    (home / "notebooks" / "00a_asyncio_primer.ipynb").unlink()
    again = copy_into(home, course)
    assert [path.name for path in again] == ["00a_asyncio_primer.ipynb"]
    assert mine.read_text() == '{"my": "work"}'


def test_with_backend_changes_only_the_parameters_cell():
    notebook = {"cells": [
        {"cell_type": "code", "metadata": {}, "source": ['BACKEND = "mock"\n']},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]},
         "source": ["# comment\n", 'BACKEND = "local"\n', "X = 1\n"]},
    ]}
    changed = with_backend(notebook)
    assert changed["cells"][0]["source"] == ['BACKEND = "mock"\n']
    source = "".join(changed["cells"][1]["source"])
    assert source.startswith("# comment\nBACKEND = \"live\"") and source.endswith("X = 1\n")


@pytest.mark.parametrize("raw, expected", [
    (b"/services/llm/v1/chat/completions", "/v1/chat/completions"),
    (b"/services/llm/v1/models", "/v1/models"),
    (b"/services/llm/v1/chat%2Fcompletions", "/v1/chat/completions"),  # decoded, then matched
    (b"/services/llm/v1/../slots", None),
    (b"/services/llm/v1/%2e%2e/props", None),
    (b"/services/llm/v1/%2E%2E/metrics", None),
    (b"/services/llm/v1/..%2fslots", None),
    (b"/services/llm/v1/./chat/completions", None),
    (b"/services/llm/v1//models", None),
    (b"/services/llm/v1/chat/completions/../../props", None),
    (b"/services/llm/v1/slots", None),
    (b"/services/llm/slots", None),
    (b"/services/llmx/v1/models", None),
    (b"/v1/models", None),
])
def test_the_gateway_knows_only_the_model_api_by_its_decoded_normal_path(raw, expected):
    gateway = Gateway(engine_url="http://127.0.0.1:9", prefix="/services/llm/", usage=None)
    request = Request({"type": "http", "method": "GET", "path": raw.decode(), "raw_path": raw,
                       "query_string": b"", "headers": []})
    assert gateway.model_api_path(request) == expected


def test_the_roster_keeps_given_passwords_adds_missing_ones_and_is_private(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("username,password\nstudent1,chosen-by-me\n")
    passwords, new = ensure_roster(path, ["student1", "student2", "student3"])
    assert passwords["student1"] == "chosen-by-me" and new == ["student2", "student3"]
    assert len({passwords["student2"], passwords["student3"], "chosen-by-me"}) == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, new_again = ensure_roster(path, ["student1", "student2", "student3"])
    assert again == passwords and new_again == []
    text = slips("https://hub:8000", {"student2": passwords["student2"]}, "AB:CD")
    assert "student2" in text and passwords["student2"] in text and "AB:CD" in text
    assert "student1" not in text, "a slip shows only its own student"


def test_a_self_signed_certificate_is_made_once_with_its_fingerprint(tmp_path):
    cert, key = self_signed(tmp_path / "tls", "127.0.0.1")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = fingerprint(cert)
    assert len(first.split(":")) == 32
    assert self_signed(tmp_path / "tls", "127.0.0.1") == (cert, key) and fingerprint(cert) == first
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_a_class_needs_two_halves_of_a_certificate_or_none():
    with pytest.raises(ClassroomError, match="go together"):
        Classroom(ssl_cert="cert.pem")
    with pytest.raises(ClassroomError, match="exclude each other"):
        Classroom(ssl_cert="c.pem", ssl_key="k.pem", insecure_http=True)
    assert Classroom(host="0.0.0.0").https and not Classroom(host="0.0.0.0", insecure_http=True).https
    assert not Classroom(host="127.0.0.1").https and Classroom(host="127.0.0.1", https=True).https


def test_demo_says_it_isolates_nobody_before_it_starts_anything(tmp_path):
    said = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        room = Classroom(demo=True, port=taken.getsockname()[1], state=tmp_path / "state", progress=said.append)
        with pytest.raises(ClassroomError, match="taken"):
            room.start()
    assert said and said[0].startswith("WARNING: --demo") and "ONE shared password" in said[0], said
    assert not (tmp_path / "state").exists(), "nothing was made before the refusal"


class _OneStudent:
    """The hub's answer for every token: student1 (the gateway is what this test is about;
    the isolation suite runs it with the real hub)."""

    async def user_for_token(self, token, sync=False):
        return {"kind": "user", "name": "student1"}


def _serve(app) -> tuple[uvicorn.Server, int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, port


def test_a_dropped_stream_is_read_to_the_engines_own_count_holding_the_students_slot(tmp_path):
    """A tiny engine speaking llama-server's stream format (content pieces, then a usage chunk):
    the student reads 3 pieces and hangs up; the gateway reads on, counts the engine's final
    usage, and keeps the student's one slot taken until then."""
    async def chat(request):
        body = await request.json()

        async def events():
            for number in range(body["max_tokens"]):
                await asyncio.sleep(0.02)
                yield f'data: {json.dumps({"choices": [{"index": 0, "delta": {"content": f"t{number} "}}]})}\n\n'
            yield f'data: {json.dumps({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": body["max_tokens"]}})}\n\n'
            yield "data: [DONE]\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    engine, engine_port = _serve(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])]))
    store = UsageStore(tmp_path / "usage.sqlite")
    gateway = Gateway(engine_url=f"http://127.0.0.1:{engine_port}", prefix="/services/llm/", usage=store,
                      per_student=1, hub_auth=_OneStudent())
    relay, relay_port = _serve(gateway.app())
    url = f"http://127.0.0.1:{relay_port}/services/llm/v1/chat/completions"
    body = {"model": "m", "max_tokens": 30, "stream": True, "messages": [{"role": "user", "content": "hi"}]}

    async def drop_then_ask_again():
        async with httpx.AsyncClient(timeout=30) as client:
            async with client.stream("POST", url, headers={"Authorization": "Bearer t"}, json=body) as answer:
                read = 0
                async for line in answer.aiter_lines():
                    read += '"content"' in line
                    if read == 3:
                        break
            return await client.post(url, headers={"Authorization": "Bearer t"}, json=body)

    try:
        again = asyncio.run(drop_then_ask_again())
        assert again.status_code == 429, "the dropped stream still holds the student's slot"
        deadline = time.monotonic() + 30
        while not store.totals().get("student1", {}).get("requests") and time.monotonic() < deadline:
            time.sleep(0.05)
        counted = store.totals()["student1"]
        assert (counted["requests"], counted["input_tokens"], counted["output_tokens"]) == (1, 7, 30), counted
    finally:
        relay.should_exit = engine.should_exit = True


def test_a_class_on_vllm_without_the_extra_says_make_vllm_in_one_line(tmp_path):
    """A machine without ``make vllm`` (an empty workbook cache): one line, and no account made."""
    if os.geteuid() != 0:
        pytest.skip("a class needs root: without it the command stops earlier, at that")
    done = subprocess.run(
        [sys.executable, "-m", "workbook", "classroom", "--engine", "vllm", "--students", "1",
         "--port", str(free_port()), "--state", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "WORKBOOK_CACHE_DIR": str(tmp_path / "empty-cache")})
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "vLLM is not installed" in lines[0] and "make vllm" in lines[0], done.stderr
    assert not (tmp_path / "state" / "accounts-created").exists(), "accounts were made for a class that cannot start"
