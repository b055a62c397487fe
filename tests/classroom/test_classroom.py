"""A real classroom: JupyterHub (with configurable-http-proxy), the ``llm`` service and
llama-server, on 127.0.0.1 over HTTPS with the certificate it made, its students Unix
accounts of their own, started once for this file (conftest.py).

* Over HTTPS: students' keys are real hub tokens the instructor's token asks the hub for; the
  student side is the workbook's own ``openai`` provider on the openai SDK.
* In headless Chromium (told to accept the self-signed issuer): a student's morning -- the
  hub's own login page with their own password, their server spawning as their account with
  their copy of the course, notebook 00 run top to bottom with its answers from the class's
  shared model (the gateway counts them), then logging out revokes the key.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from workbook.ai import AISettings, Message, create_ai_provider
from workbook.ai.errors import AuthenticationError
from workbook.aio import aclose_quietly
from workbook.classroom.gateway import AUTH_CACHE_S
from workbook.classroom.hub import processes_with_marker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import lab_page  # noqa: E402  (the JupyterLab steps the browser tests share)

ROOT = Path(__file__).resolve().parents[2]
QUESTION = [Message("user", "What is the capital of France?")]
CHROMIUM = os.environ.get("WORKBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--ignore-certificate-errors", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update"]
OUTPUT = ROOT / "test-output" / "classroom"
# Every cell kept in the DOM, so the test can read each prompt and output (JupyterLab's user
# settings live in the student's home on the hub, as they would for a real student).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}



def chat_body(max_tokens: int = 8, **more) -> dict:
    return {"model": "smollm2", "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": "Name a colour."}], **more}


def post(room, token: str | None, body: dict | None = None, timeout: float = 60.0) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{room.llm_url}/chat/completions", headers=headers, json=body or chat_body(),
                      timeout=timeout, verify=room.verify)


def pid_of(room, needle: str) -> int:
    for pid in processes_with_marker(room.marker):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in command:
            return pid
    raise AssertionError(f"no process of this classroom runs {needle!r}")


def wait_for(check, *, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outcome = check()
        if outcome:
            return outcome
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout_s:g} s")


def test_hub_serves_its_login_page_over_https_only_and_keeps_secrets_private(room):
    login = httpx.get(f"{room.local_url}/hub/login", timeout=10, verify=room.verify)
    assert login.status_code == 200 and 'name="password"' in login.text
    assert room.local_url.startswith("https://")
    with pytest.raises(httpx.HTTPError):  # the proxy speaks TLS only on the class's port
        plain = httpx.get(f"http://127.0.0.1:{room.port}/hub/login", timeout=10)
        raise AssertionError(f"plain HTTP answered {plain.status_code}")  # not an HTTPError: fails
    assert len(room.fingerprint.split(":")) == 32, room.fingerprint
    for name in ("instructor-token", "roster.csv", "engine-key", "tls/key.pem"):
        mode = stat.S_IMODE((room.state / name).stat().st_mode)
        assert mode == 0o600, f"{name} is readable by others: {oct(mode)}"
    assert room.instructor_token not in room.log_tail(10_000), "the hub log shows the instructor's token"
    for password in room.passwords.values():
        assert password not in room.log_tail(10_000), "the hub log shows a password"


def test_each_student_logs_in_with_their_own_password_and_gets_secure_cookies(room):
    with httpx.Client(verify=room.verify, timeout=30, follow_redirects=False) as client:
        page = client.get(f"{room.local_url}/hub/login")
        xsrf = page.cookies.get("_xsrf")
        answer = client.post(f"{room.local_url}/hub/login", data={
            "username": "student3", "password": room.passwords["student3"], "_xsrf": xsrf})
        cookies = [value for key, value in answer.headers.multi_items() if key.lower() == "set-cookie"]
        assert answer.status_code == 302, answer.text[:300]
        assert cookies and all("Secure" in cookie for cookie in cookies), cookies
        wrong = client.post(f"{room.local_url}/hub/login", data={
            "username": "student3", "password": room.passwords["student2"], "_xsrf": xsrf})
        assert wrong.status_code == 403


async def test_a_student_chats_and_streams_through_the_workbook_provider(room):
    before = room.usage()["students"].get("student1", {}).get("requests", 0)
    # Where a student's server sends it: the gateway on loopback (AI__OPENAI_BASE_URL).
    settings = AISettings(provider="openai", openai_base_url=room.servers_llm_url,
                          openai_api_key=room.token_for("student1"), model="smollm2", timeout_s=60)
    provider = create_ai_provider(settings)
    try:
        reply = await provider.chat(QUESTION, max_tokens=16, temperature=0)
        pieces = [piece async for piece in provider.chat_stream(QUESTION, max_tokens=16, temperature=0)]
    finally:
        await aclose_quietly(provider)
    assert reply.content.strip() and reply.usage.output_tokens > 0
    assert "".join(pieces).strip(), "the stream through the gateway carried text"
    usage = room.usage()["students"]["student1"]
    assert usage["requests"] == before + 2, usage
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0 and usage["seconds"] > 0


async def test_a_stream_without_include_usage_gets_no_usage_chunk(room):
    token = room.token_for("student1")
    lines = []
    async with httpx.AsyncClient(timeout=60, verify=room.verify) as client:
        async with client.stream("POST", f"{room.llm_url}/chat/completions",
                                 headers={"Authorization": f"Bearer {token}"},
                                 json=chat_body(stream=True)) as answer:
            assert answer.status_code == 200
            lines = [line async for line in answer.aiter_lines() if line.startswith("data:")]
    assert lines[-1] == "data: [DONE]"
    assert not any('"choices":[]' in line for line in lines), "the student did not ask for usage"



@pytest.fixture
def chromium():
    """Function-scoped: Playwright's sync API holds an event loop in this thread while it is
    open, and the async tests after it need the thread free of one."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser test, but Chromium is not at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                     timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


def server_token(room, student: str) -> str:
    """The API key the hub gave the student's server (read from that process's environment)."""
    for pid in processes_with_marker(room.marker):
        try:
            environ = dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes()
                           .decode(errors="replace").split("\0") if "=" in item)
        except OSError:
            continue
        if environ.get("JUPYTERHUB_USER") == student and "AI__OPENAI_API_KEY" in environ:
            return environ["AI__OPENAI_API_KEY"]
    raise AssertionError(f"no running server of {student}'s has AI__OPENAI_API_KEY")


@pytest.mark.browser
def test_a_student_logs_in_runs_notebook_00_on_the_shared_model_and_logs_out(room, chromium):
    student = "student2"
    account = pwd.getpwnam(room.account(student))
    for name, value in LAB_SETTINGS.items():
        path = room.home(student) / ".jupyter" / "lab" / "user-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    for path in (room.home(student) / ".jupyter").rglob("*"):
        os.chown(path, account.pw_uid, account.pw_gid)  # the student's own settings
    os.chown(room.home(student) / ".jupyter", account.pw_uid, account.pw_gid)
    before = room.usage()["students"].get(student, {}).get("requests", 0)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{room.local_url}/hub/login")
        page.fill("#username_input", student)
        page.fill("#password_input", room.passwords[student])
        page.click("#login_submit")
        # The hub spawns the server and sends the browser to notebook 00 in the student's copy.
        page.wait_for_url(f"**/user/{student}/lab/**", timeout=60_000)
        notebook = lab_page.panel(page)
        notebook.wait_for(state="visible", timeout=60_000)
        expect(notebook.locator(".jp-Toolbar-kernelName")).to_contain_text("Python 3", timeout=60_000)
        assert (room.home(student) / "notebooks" / "00_start_here.ipynb").exists()
        lab_page.wait_idle(page, timeout_ms=60_000)
        page.screenshot(path=str(OUTPUT / "01-notebook-00-open.png"))

        prompts = lab_page.run_all(page, timeout_ms=120_000)
        page.screenshot(path=str(OUTPUT / "02-notebook-00-ran.png"), full_page=False)
        assert all(lab_page.PROMPT_DONE.match(p) for p in prompts), prompts
        errors = lab_page.error_outputs(page)
        assert not errors, f"notebook 00 failed in the classroom: {errors[0][:2000]}"

        usage = room.usage()["students"][student]
        assert usage["requests"] > before and usage["output_tokens"] > 0, \
            f"notebook 00's answers did not come through the class's model: {usage}"

        # Logging out stops the server and revokes the key its notebooks used.
        key = server_token(room, student)
        answer = httpx.post(f"{room.llm_url}/chat/completions", verify=room.verify,
                            headers={"Authorization": f"Bearer {key}"}, timeout=60,
                            json={"model": "smollm2", "max_tokens": 4,
                                  "messages": [{"role": "user", "content": "Hi"}]})
        assert answer.status_code == 200
        page.goto(f"{room.local_url}/hub/logout")
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = httpx.post(f"{room.llm_url}/chat/completions", verify=room.verify,
                                headers={"Authorization": f"Bearer {key}"}, timeout=60,
                                json={"model": "smollm2", "max_tokens": 4,
                                      "messages": [{"role": "user", "content": "Hi"}]}).status_code
            if status == 401:
                break
            time.sleep(0.5)
        assert status == 401, f"the key still worked after logout (HTTP {status})"
    except BaseException:
        page.screenshot(path=str(OUTPUT / "FAILED.png"))
        (OUTPUT / "FAILED-hub.log").write_text(room.log_tail(300) + "\n")
        raise
    finally:
        context.close()

async def test_strangers_and_made_up_tokens_are_refused(room):
    nobody = post(room, None)
    assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "missing_api_key"
    made_up = post(room, "0" * 32)
    assert made_up.status_code == 401 and made_up.json()["error"]["code"] == "invalid_api_key"
    # What a student sees through the workbook: its own typed error with a hint.
    provider = create_ai_provider(AISettings(provider="openai", openai_base_url=room.servers_llm_url,
                                             openai_api_key="not-a-hub-token", model="smollm2",
                                             max_retries=0))
    try:
        with pytest.raises(AuthenticationError) as refused:
            await provider.chat(QUESTION, max_tokens=4)
    finally:
        await aclose_quietly(provider)
    assert refused.value.hint


def test_the_model_server_itself_refuses_requests_that_go_round_the_gateway(room):
    """Its key is in the state folder only: a student's code on the same machine cannot skip
    the per-student limit and the usage count by calling llama-server's port directly."""
    around = httpx.post(f"{room.engine_url}/chat/completions", json=chat_body(),
                        headers={"Authorization": f"Bearer {room.token_for('student1')}"}, timeout=30)
    assert around.status_code == 401
    assert httpx.post(f"{room.engine_url}/chat/completions", json=chat_body(), timeout=30,
                      headers={"Authorization": f"Bearer {room.engine_key}"}).status_code == 200


async def test_one_student_over_the_limit_gets_429_while_another_is_served(room):
    first, second = room.token_for("student1"), room.token_for("student2")
    long_answer = chat_body(max_tokens=120, stream=True, ignore_eos=True)
    async with httpx.AsyncClient(timeout=60, verify=room.verify) as client:
        async with client.stream("POST", f"{room.llm_url}/chat/completions",
                                 headers={"Authorization": f"Bearer {first}"}, json=long_answer) as running:
            assert running.status_code == 200
            lines = running.aiter_lines()
            while not (await anext(lines)).startswith("data:"):
                pass  # the first token is out: student1's one slot is taken
            over = await client.post(f"{room.llm_url}/chat/completions",
                                     headers={"Authorization": f"Bearer {first}"}, json=chat_body())
            other = await client.post(f"{room.llm_url}/chat/completions",
                                      headers={"Authorization": f"Bearer {second}"}, json=chat_body())
            async for _ in lines:
                pass
    assert over.status_code == 429, over.text
    assert over.headers["retry-after"] == "1"
    assert over.json()["error"]["code"] == "per_student_limit"
    assert other.status_code == 200, f"student2 was held up by student1's request: {other.text}"
    # The slot is free again once the stream ended.
    assert post(room, first).status_code == 200
    assert room.usage()["students"]["student1"]["refused"] >= 1


def test_usage_is_for_the_instructor_only(room):
    student = httpx.get(f"{room.local_url}/services/llm/usage", verify=room.verify,
                        headers={"Authorization": f"Bearer {room.token_for('student2')}"}, timeout=10)
    assert student.status_code == 403
    assert httpx.get(f"{room.local_url}/services/llm/usage", timeout=10, verify=room.verify).status_code == 401
    report = room.usage()
    assert report["per_student"] == 1
    assert set(report["students"]) <= set(room.usernames) | {"service:instructor"}


def test_revoked_and_expired_tokens_are_refused(room):
    made = room.api("POST", "/users/student3/tokens", json={"note": "to revoke"}).json()
    expiring = room.token_for("student3", expires_in=1)
    assert post(room, made["token"]).status_code == 200
    assert room.api("DELETE", f"/users/student3/tokens/{made['id']}").status_code == 204
    time.sleep(AUTH_CACHE_S + 1.0)  # the bound the gateway promises, and a second
    assert post(room, made["token"]).status_code == 401
    assert post(room, expiring).status_code == 401


def test_a_dead_model_server_is_a_503_with_a_hint_and_the_hub_restarts_it(room):
    token = room.token_for("student2")
    os.kill(pid_of(room, "llama-server"), signal.SIGKILL)
    dead = post(room, token)
    assert dead.status_code == 503 and dead.headers.get("retry-after")
    assert "restarting" in dead.json()["error"]["message"]
    wait_for(lambda: post(room, token).status_code == 200, timeout_s=45,
             what="the hub restarting the model server")


def test_usage_survives_a_restart_of_the_gateway(room):
    assert post(room, room.token_for("student3")).status_code == 200
    before = room.usage()["students"]
    old = pid_of(room, "workbook.classroom.gateway")
    os.kill(old, signal.SIGKILL)

    def back():
        try:
            return pid_of(room, "workbook.classroom.gateway") != old and room.usage()
        except (AssertionError, httpx.HTTPError):
            return None

    after = wait_for(back, timeout_s=45, what="the hub restarting the gateway")["students"]
    assert after == before


def test_the_command_says_in_one_line_that_its_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "workbook", "classroom", "--port", str(port),
                               "--state", str(tmp_path / "state")], capture_output=True, text=True,
                              timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "taken" in lines[0], done.stderr
