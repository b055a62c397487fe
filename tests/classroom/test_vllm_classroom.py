"""A class served by the real vLLM (``Classroom(engine="vllm")``, its CPU build from ``make vllm``):
two students, Unix accounts of their own, started once for this file as a class is (root).

* A student's chat and stream go through the gateway to vLLM, and the gateway counts exactly
  the tokens vLLM reports -- also for a stream whose student did not ask for usage.
* No student reaches vLLM: not its Unix socket (root's state folder), and not the TCP ports
  its worker opens on 127.0.0.1 (they are in a network namespace of its own). Why it matters:
  vLLM's key guards only its /v1 paths, and /invocations answers a chat without it. And the
  curious student of ``test_isolation.py`` tries everything else again, against this class:
  its tests are imported here, with their fixtures, and run on this module's ``room``.
* vLLM killed leaves no engine behind (the hub restarts it: a second one beside the first would
  not fit in a class machine's memory), and stopping the class leaves no vLLM process.

Marked ``vllm``: nothing here measures speed, so it runs with the other tests, and on a new
machine last, after make test's background install has had the time it needs (vLLM takes half a
minute and 3-4 GB to load; the machine has room for it beside the other worker). Without the extra
a developer's run skips it (saying ``make vllm``); on CI it waits for that install instead.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from workbook.ai import AISettings, Message, create_ai_provider
from workbook.aio import aclose_quietly
from workbook.classroom.accounts import uid_of
from workbook.classroom.hub import Classroom
from workbook.classroom.namespaces import namespace_of
from workbook.ports import free_port
from workbook.serving import vllm_env

from background_job import sigint_ignored

from test_isolation import (  # noqa: F401 -- collected here too, on this module's vLLM class
    attempt, settings, test_every_attempt_of_the_curious_student_is_refused,
    test_no_process_the_hub_stops_ignores_the_stop_signal, test_no_secret_shows_in_any_process_the_student_can_read,
    test_the_attempts_covered_what_the_issue_lists, test_the_students_servers_run_as_their_own_accounts_never_root)

pytestmark = [pytest.mark.vllm, pytest.mark.slow,
              # the first run on a machine may wait for make test's background install (minutes)
              pytest.mark.timeout(900, func_only=False)]

QUESTION = [Message("user", "What is the capital of France?")]
TOKENS = 12  # a stream's exact length: ignore_eos makes vLLM write all of them


def vllm_processes(room: Classroom) -> dict[int, str]:
    """This class's vLLM processes (the API server, its engine core and worker): {pid: name}."""
    found = {}
    for pid in room.engine_processes():
        try:
            found[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def room(tmp_path_factory, as_root):
    if not vllm_env.installed() and os.environ.get("CI") != "true":
        pytest.skip(f"vLLM is not installed: {vllm_env.HINT}")
    vllm_env.ensure_model(progress=print)  # waits for make test's background install, if running
    room = Classroom(students=2, port=free_port(), state=tmp_path_factory.mktemp("vclass") / "state",
                     per_student=1, parallel=4, threads=1, n_ctx=1024, poll_interval_s=1, https=True,
                     engine="vllm", account_prefix=f"wbv{secrets.token_hex(2)}-", progress=print)
    engine: dict[int, str] = {}
    try:
        with sigint_ignored():  # as make test, a background job, starts it (background_job.py)
            room.start()
        engine.update(vllm_processes(room))
        yield room
    finally:
        engine.update(vllm_processes(room))
        room.stop()
        alive = {pid: name for pid, name in engine.items() if running(pid)}
        left = room.leftovers()
        removed = room.remove_accounts()
        assert {"VLLM::EngineCor", "VLLM::Worker"} <= set(engine.values()), \
            f"the class ran no vLLM engine (so stopping it proves nothing): {engine}"
        assert not alive, f"vLLM processes outlived the class: {alive}"
        assert not left, f"processes the classroom started are still running: {left}"
        assert not any(uid_of(name) is not None for name in removed), "accounts left behind"


def running(pid: int) -> bool:
    """Alive and not a zombie (this machine's first process reaps no orphans)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def counted(room: Classroom, student: str) -> dict:
    return room.usage()["students"].get(student, {"requests": 0, "input_tokens": 0, "output_tokens": 0})


async def stream_lines(room: Classroom, token: str, **options) -> list[str]:
    body = {"model": "smollm2", "max_tokens": TOKENS, "ignore_eos": True, "temperature": 0, "stream": True,
            "messages": [{"role": "user", "content": "Count to twenty."}], **options}
    async with httpx.AsyncClient(timeout=120) as client:
        async with client.stream("POST", f"{room.servers_llm_url}/chat/completions", json=body,
                                 headers={"Authorization": f"Bearer {token}"}) as answer:
            assert answer.status_code == 200, await answer.aread()
            return [line async for line in answer.aiter_lines() if line.startswith("data:")]


def listening_ports(pid: int | str) -> set[int]:
    """The TCP ports listening in ``pid``'s network namespace."""
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def usage_chunks(lines: list[str]) -> list[dict]:
    chunks = [json.loads(line[5:]) for line in lines if line != "data: [DONE]"]
    return [chunk["usage"] for chunk in chunks if chunk.get("usage")]


async def test_a_students_chat_and_streams_are_answered_by_vllm_and_counted_exactly(room):
    room, student = room, "student1"
    token = room.token_for(student)
    before = counted(room, student)
    # The student's own code: the workbook's openai provider, as their server configures it.
    provider = create_ai_provider(AISettings(provider="openai", openai_base_url=room.servers_llm_url,
                                             openai_api_key=token, model="smollm2", timeout_s=120))
    try:
        reply = await provider.chat(QUESTION, max_tokens=16, temperature=0)
    finally:
        await aclose_quietly(provider)
    assert reply.content.strip() and reply.usage.output_tokens > 0, reply
    asked = await stream_lines(room, token, stream_options={"include_usage": True})
    (usage,) = usage_chunks(asked)
    assert usage["completion_tokens"] == TOKENS, usage
    # The gateway asks vLLM for the usage chunk to count by, and drops it for this student.
    unasked = await stream_lines(room, token)
    assert unasked[-1] == "data: [DONE]" and not usage_chunks(unasked), unasked[-3:]
    assert any('"content"' in line for line in unasked), "the stream carried text"

    after = counted(room, student)
    assert after["requests"] == before["requests"] + 3, after
    assert after["output_tokens"] - before["output_tokens"] == reply.usage.output_tokens + 2 * TOKENS, after
    assert after["input_tokens"] - before["input_tokens"] == reply.usage.input_tokens + 2 * usage["prompt_tokens"]


async def test_a_student_reaches_neither_vllms_socket_nor_its_ports(room):
    room = room
    engine = vllm_processes(room)
    assert "VLLM::Worker" in engine.values(), engine
    (network,) = {namespace_of(pid) for pid in engine}
    assert network != namespace_of(), "vLLM has a network of its own"
    # Its worker's TCP ports: every listening socket of that network -- less any port number
    # some other server on this machine happens to listen on too (that one would answer).
    listening = listening_ports(next(iter(engine))) - listening_ports("self")
    assert listening, "vLLM's worker listens on loopback ports (so the check below is real)"

    # Why: through its socket, vLLM's key guards /v1 -- and /invocations answers without it.
    body = {"model": "smollm2", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(room.engine_socket)), timeout=120) as root:
        assert root.post(f"{room.engine_url}/chat/completions", json=body).status_code == 401
        assert root.post(f"{room.engine_url}/chat/completions", json=body,
                         headers={"Authorization": f"Bearer {room.engine_key}"}).status_code == 200
        assert root.post("http://llm-engine/invocations", json=body).status_code == 200

    account = pwd.getpwnam(room.account("student2"))
    python = json.loads((room.state / "classroom.json").read_text())["student_python"]
    done = subprocess.run(
        [python, "-c", STUDENT_PROBE, str(room.engine_socket), json.dumps(sorted(listening))],
        capture_output=True, text=True, timeout=120, user=account.pw_uid, group=account.pw_gid,
        extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": account.pw_dir})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["uid"] == account.pw_uid
    through = {target: outcome for target, outcome in seen["attempts"].items() if not outcome.startswith("refused")}
    assert not through, f"student2 reached vLLM: {through}"
    assert len(seen["attempts"]) == len(listening) + 1
    # vLLM's key is in its processes' environment (root's, unreadable to students), and its
    # engine renames itself over that memory: no command line or environment student2 can
    # read holds it (their kernel would show them nothing more).
    readable = seen["readable"]
    assert set(map(str, engine)) <= set(readable), "student2 could list vLLM's command lines"
    leaks = [f"/proc/{pid}/{kind}" for pid, record in readable.items() for kind, text in record.items()
             if room.engine_key in text]
    assert not leaks, f"vLLM's key is readable by student2 in {leaks}"


# Run as the student: the socket, then /invocations on each of vLLM's ports on 127.0.0.1.
STUDENT_PROBE = r'''
import json, os, socket, sys
path, ports = sys.argv[1], json.loads(sys.argv[2])
request = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
attempts = {}
def attempt(target, family, address):
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        try:
            sock.connect(address)
        except (PermissionError, ConnectionRefusedError, FileNotFoundError) as error:
            attempts[target] = f"refused: {error}"
            return
        sock.sendall(request)
        attempts[target] = f"CONNECTED, answered {sock.recv(200)!r}"
attempt(f"the socket {path}", socket.AF_UNIX, path)
for port in ports:
    attempt(f"127.0.0.1:{port}", socket.AF_INET, ("127.0.0.1", port))
readable = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    record = {}
    for kind in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{kind}", "rb") as handle:
                record[kind] = handle.read().decode(errors="replace")
        except OSError:
            pass
    readable[pid] = record
print(json.dumps({"uid": os.getuid(), "attempts": attempts, "readable": readable}))
'''


def test_vllm_killed_leaves_no_engine_behind(room):
    """Last in this file: the hub restarts vLLM (a minute of loading), which the fixture's stop
    then ends half-way -- that too must leave nothing."""
    room = room
    engine = vllm_processes(room)
    (server,) = [pid for pid in engine if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3]
                 == [b"-m", b"vllm.entrypoints.openai.api_server"]]
    os.kill(server, signal.SIGKILL)
    token = room.token_for("student2")
    dead = httpx.post(f"{room.servers_llm_url}/chat/completions", timeout=60,
                      headers={"Authorization": f"Bearer {token}"},
                      json={"model": "smollm2", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]})
    assert dead.status_code == 503 and "restarting" in dead.json()["error"]["message"], dead.text
    deadline = time.monotonic() + 30
    while any(map(running, engine)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: name for pid, name in engine.items() if running(pid)}
    assert not left, f"the killed vLLM's engine lives on: {left}"
