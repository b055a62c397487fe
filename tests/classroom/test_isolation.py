"""A class of three, tried by a curious student: student1, from a kernel of their own
JupyterLab server (opened over the hub's HTTPS with their own token, as their browser does),
goes after student2 -- whose server is running -- and after the hub, its proxy, the gateway and
the model server. Every attempt must be refused.

The attempts are in ``curious_student.py``, run once in that kernel; the test below names each
that got through. The tests that need the instructor's side (a service token, a dropped
stream, a process that tries to outlive its server) follow.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import stat
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from workbook.classroom import accounts
from workbook.classroom.hub import processes_with_marker

from background_job import children_of, ignoring_sigint

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ATTACKER, VICTIM = "student1", "student2"
GATEWAY_PATHS = [
    "/services/llm/v1/../slots", "/services/llm/v1/%2e%2e/props", "/services/llm/v1/%2E%2E/metrics",
    "/services/llm/v1/..%2fslots", "/services/llm/v1/chat/completions/../../props",
    "/services/llm/v1/slots", "/services/llm/v1/props", "/services/llm/slots", "/services/llm/metrics",
    "/services/llm/v1/./slots", "/services/llm/v1//props", "/services/llm/%76%31/../props",
]


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def cmdline_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def server_pid(room, student: str) -> int:
    """The student's Jupyter server (the process the hub started as their account)."""
    uid = accounts.uid_of(room.account(student))
    for pid in accounts.processes_of(uid):
        if "jupyterhub.singleuser" in cmdline_of(pid):
            return pid
    raise AssertionError(f"{student} has no running server")


def start_server(room, student: str) -> None:
    answer = room.api("POST", f"/users/{student}/server")
    assert answer.status_code in (201, 202, 400), answer.text  # 400: already running
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        model = room.api("GET", f"/users/{student}").json()
        if (model.get("servers") or {}).get("", {}).get("ready"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{student}'s server was not ready within 90 s:\n{room.log_tail(40)}")


def hub_processes(room) -> dict[str, int]:
    named = {}
    wanted = {"the hub": ("jupyterhub -f",), "the proxy": ("configurable-http-proxy",),
              "the gateway": ("workbook.classroom.gateway",),
              "the model server": ("llama-server", "llama_cpp.server", "vllm.entrypoints")}
    for pid in processes_with_marker(room.marker) + [room.process.pid]:
        command = cmdline_of(pid)
        for name, needles in wanted.items():
            if any(needle in command for needle in needles) and name not in named:
                named[name] = pid
    assert set(named) == set(wanted), f"found only {named}"
    return named


async def run_in_kernel(room, student: str, token: str, code: str, timeout_s: float = 300) -> str:
    """``code`` in a new kernel of ``student``'s server, through the hub's proxy; its stdout."""
    base = f"{room.local_url}/user/{student}/api/kernels"
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(verify=room.verify, timeout=60) as client:
        kernel = (await client.post(base, headers=headers, json={"name": "python3"})).raise_for_status().json()
        try:
            url = f"{base.replace('https://', 'wss://')}/{kernel['id']}/channels"
            connection = await websocket_connect(HTTPRequest(url, headers=headers, ssl_options=room.verify))
            msg_id = uuid.uuid4().hex
            connection.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": student,
                           "session": uuid.uuid4().hex, "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            out, errors = [], []
            async with asyncio.timeout(timeout_s):
                while True:
                    message = json.loads(await connection.read_message())
                    if message.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind, content = message["msg_type"], message["content"]
                    if kind == "stream" and content["name"] == "stdout":
                        out.append(content["text"])
                    elif kind == "error":
                        errors.append("\n".join(content["traceback"]))
                    elif kind == "status" and content["execution_state"] == "idle":
                        break
            connection.close()
            assert not errors, errors[0][-3000:]
            return "".join(out)
        finally:
            await client.delete(f"{base}/{kernel['id']}", headers=headers)


@pytest.fixture(scope="module")
def settings(room):
    return json.loads((room.state / "classroom.json").read_text())


@pytest.fixture(scope="module")
def attempt(room, settings):
    """Runs curious_student.py once as student1 and returns what it saw."""
    return curious_attempt(room, settings)


def curious_attempt(room, settings: dict) -> dict:
    """curious_student.py run once as student1, in a kernel of their own server (started here,
    with student2's): what it saw, with the targets it was given and student2's environment."""
    for student in (ATTACKER, VICTIM):
        start_server(room, student)
    attacker_env = environ_of(server_pid(room, ATTACKER))
    victim_env = environ_of(server_pid(room, VICTIM))
    account = pwd.getpwnam(room.account(ATTACKER))
    site_packages = Path(httpx.__file__).resolve().parents[1]
    targets = {
        "me": ATTACKER, "victim": VICTIM, "my_password": room.passwords[ATTACKER],
        "victim_home": str(room.home(VICTIM)),
        "victim_notebook": str(room.home(VICTIM) / "notebooks" / "00_start_here.ipynb"),
        "victim_pids": accounts.processes_of(accounts.uid_of(room.account(VICTIM))),
        "hub_pids": hub_processes(room),
        "state": str(room.state),
        "state_files": sorted(str(path) for path in room.state.rglob("*") if path.is_file()),
        "code_folders": [str(ROOT / "workbook"), str(ROOT / "workbook" / "classroom"), str(ROOT / "notebooks"),
                         str(site_packages), str(Path(settings["student_python"]).parents[1]),
                         # the students' copy of the checkout (or the virtualenv itself)
                         str(Path(settings["student_python"]).parents[2])],
        # llama-server's port; or vLLM's socket (it has no port a student could reach)
        "engine": (f"unix:{settings['engine_socket']}" if settings.get("engine_socket")
                   else f"http://127.0.0.1:{settings['engine_port']}"),
        "gateway": f"http://127.0.0.1:{settings['gateway_port']}",
        "hub": room.local_url,
        "proxy_api": f"http://127.0.0.1:{settings['proxy_api_port']}",
        "my_server": attacker_env["JUPYTERHUB_SERVICE_URL"],
        "victim_server": victim_env["JUPYTERHUB_SERVICE_URL"],
        "gateway_paths": GATEWAY_PATHS,
    }
    # The attempts' source goes to the kernel as text: the checkout may be closed to students.
    source = (HERE / "curious_student.py").read_text()
    code = ("import json, sys, types\ncurious_student = types.ModuleType('curious_student')\n"
            "sys.modules['curious_student'] = curious_student\n"
            f"exec(compile({source!r}, 'curious_student.py', 'exec'), curious_student.__dict__)\n"
            f"print(json.dumps(curious_student.attempt(json.loads({json.dumps(targets)!r}))))\n")
    # student1's own token, as their browser holds it after logging in.
    output = asyncio.run(run_in_kernel(room, ATTACKER, room.token_for(ATTACKER, note="browser"), code))
    seen = json.loads(output)
    assert seen["uid"] == account.pw_uid, "the kernel runs as the student's own account"
    seen["victim_env"] = victim_env
    seen["targets"] = targets
    return seen


def test_the_students_servers_run_as_their_own_accounts_never_root(room, attempt):
    for student in (ATTACKER, VICTIM):
        pid = server_pid(room, student)
        status = Path(f"/proc/{pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert set(uids) == {str(accounts.uid_of(room.account(student)))}, (student, uids)
        assert "allow_root" not in cmdline_of(pid) and "allow-root" not in cmdline_of(pid)
        home = room.home(student)
        info = home.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == accounts.uid_of(room.account(student))
        assert (home / "notebooks" / "00_start_here.ipynb").stat().st_uid == info.st_uid, \
            "the course copy belongs to its student"
    info = room.state.stat()
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o700


def test_the_attempts_covered_what_the_issue_lists(attempt):
    """The targets were real (a check against nothing proves nothing)."""
    targets = attempt["targets"]
    assert targets["victim_pids"], "student2 had processes to attack"
    names = {Path(path).name for path in targets["state_files"]}
    assert {"jupyterhub.sqlite", "jupyterhub_cookie_secret", "instructor-token", "roster.csv",
            "engine-key", "llm-usage.sqlite", "key.pem"} <= names, names
    assert len(attempt["results"]) >= 40, len(attempt["results"])


def test_every_attempt_of_the_curious_student_is_refused(attempt):
    through = {name: detail for name, (outcome, detail) in attempt["results"].items() if outcome != "refused"}
    assert not through, "got through:\n" + "\n".join(f"  {name}: {detail}" for name, detail in through.items())


def test_no_secret_shows_in_any_process_the_student_can_read(room, attempt, settings):
    hub = hub_processes(room)
    secrets_ = {
        "the instructor's token": room.instructor_token,
        "the engine's key": room.engine_key,
        "the cookie secret": (room.state / "jupyterhub_cookie_secret").read_text().strip(),
        "the proxy's token": environ_of(hub["the proxy"])["CONFIGPROXY_AUTH_TOKEN"],
        "the gateway's hub token": environ_of(hub["the gateway"])["JUPYTERHUB_API_TOKEN"],
        f"{VICTIM}'s hub token": attempt["victim_env"]["JUPYTERHUB_API_TOKEN"],
        **{f"{name}'s password": password for name, password in room.passwords.items() if name != ATTACKER},
    }
    for pid, record in attempt["processes"].items():
        for kind, text in record.items():
            for what, secret in secrets_.items():
                assert secret not in text, f"{what} is readable in /proc/{pid}/{kind} by {ATTACKER}"


def test_a_service_token_does_not_get_the_model(room):
    answer = httpx.post(f"{room.llm_url}/chat/completions", verify=room.verify, timeout=60,
                        headers={"Authorization": f"Bearer {room.instructor_token}"},
                        json={"model": "smollm2", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "students_only", answer.text


async def test_a_dropped_stream_is_counted(room):
    token = room.token_for("student3")
    before = room.usage()["students"].get("student3", {"requests": 0, "output_tokens": 0})
    received = 0
    async with httpx.AsyncClient(verify=room.verify, timeout=60) as client:
        async with client.stream("POST", f"{room.llm_url}/chat/completions",
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"model": "smollm2", "max_tokens": 60, "ignore_eos": True, "stream": True,
                                       "messages": [{"role": "user", "content": "Count to fifty."}]}) as answer:
            assert answer.status_code == 200
            async for line in answer.aiter_lines():
                if '"content"' in line:
                    received += 1
                if received >= 3:
                    break  # and the connection closes: the student went away mid-answer
    deadline = time.monotonic() + 60
    after = before
    while time.monotonic() < deadline:
        after = room.usage()["students"].get("student3", before)
        if after["requests"] > before["requests"]:
            break
        time.sleep(0.3)
    assert after["requests"] == before["requests"] + 1, after
    counted = after["output_tokens"] - before["output_tokens"]
    assert counted >= received, f"the gateway counted {counted} output tokens of a stream that sent {received}"


def test_no_process_the_hub_stops_ignores_the_stop_signal(room, attempt):
    """The fixture started the class with SIGINT ignored (``background_job.py``); the hub must
    not hand that on: the services and servers it stops with SIGINT would sit it out."""
    stopped_by_the_hub = children_of(room.process.pid)
    assert len(stopped_by_the_hub) >= 5, \
        f"the hub runs its proxy, services and the students' servers: {stopped_by_the_hub}"
    assert not ignoring_sigint(stopped_by_the_hub), f"these ignore SIGINT: {ignoring_sigint(stopped_by_the_hub)}"


def test_a_students_detached_process_ends_with_their_server(room, attempt):
    account = pwd.getpwnam(room.account(VICTIM))
    planted = subprocess.Popen(["sleep", "600"], user=account.pw_uid, group=account.pw_gid, extra_groups=[],
                               start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd="/")
    try:
        assert room.api("DELETE", f"/users/{VICTIM}/server").status_code in (202, 204)
        deadline = time.monotonic() + 60
        while planted.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert planted.poll() is not None, "a process the student detached outlived their server"
        assert not accounts.processes_of(account.pw_uid)
    finally:
        if planted.poll() is None:
            planted.kill()
        planted.wait(5)


def test_the_command_refuses_a_class_without_root_in_one_line(room, tmp_path):
    """Run as an ordinary account (student3's): one line saying why and what to do."""
    account = pwd.getpwnam(room.account("student3"))
    python = json.loads((room.state / "classroom.json").read_text())["student_python"]
    state = Path(account.pw_dir) / "my-class"
    done = subprocess.run([python, "-m", "workbook", "classroom", "--state", str(state), "--students", "2"],
                          capture_output=True, text=True, timeout=120, user=account.pw_uid,
                          group=account.pw_gid, extra_groups=[], cwd=account.pw_dir,
                          env={"PATH": "/usr/bin:/bin", "HOME": account.pw_dir,
                               **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})})
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "needs root" in lines[0] and "--demo" in lines[0] and "Unix account" in lines[0]

