"""What a curious student tries from their own account, with only what that student has.

Run (by ``test_isolation.py``) in a kernel of the student's own JupyterLab server -- so as
their Unix account, in the students' Python, with the environment the hub gave that server.
``attempt(targets)`` takes the targets -- addresses, paths and pids anyone on the machine can
find with ``ls``, ``ps`` and the hub's own log-in page -- tries each attack, and returns
``{attack: [outcome, detail]}`` with outcome ``"refused"`` or ``"ALLOWED"``, and every process
command line and environment it could read, so the test can look for secrets in them.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import urllib.parse
from pathlib import Path

import httpx

UNVERIFIED = ssl._create_unverified_context()  # a student who clicked through the warning


def refused(detail: str = "") -> list:
    return ["refused", detail]


def allowed(detail: str = "") -> list:
    return ["ALLOWED", detail]


def file_attack(path: str, mode: str) -> list:
    try:
        if mode == "list":
            return allowed(f"listed {len(os.listdir(path))} entries")
        if mode == "write":
            with open(path, "a") as handle:
                handle.write("")
            return allowed("opened for writing")
        with open(path, "rb") as handle:
            return allowed(f"read {len(handle.read(64))} bytes")
    except PermissionError as error:
        return refused(str(error))
    except FileNotFoundError as error:
        return allowed(f"not even there (so the check proves nothing): {error}")


def new_file_attack(folder: str) -> list:
    target = Path(folder) / "planted-by-a-student.py"
    try:
        target.write_text("print('hello from another student')\n")
        target.unlink()
        return allowed(f"wrote {target}")
    except PermissionError as error:
        return refused(str(error))


def signal_attack(pid: int) -> list:
    try:
        os.kill(pid, signal.SIGTERM)
        return allowed(f"signalled {pid}")
    except PermissionError as error:
        return refused(str(error))
    except ProcessLookupError:
        return allowed(f"{pid} is not running (so the check proves nothing)")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def raw_request(base: str, method: str, path: str, headers: dict | None = None,
                body: bytes | None = None) -> tuple[int, bytes, dict]:
    """Exactly this path on the wire: no client normalising ``..`` or decoding ``%2e``.
    ``base`` ``unix:PATH`` is a server on a Unix socket."""
    url = urllib.parse.urlsplit(base)
    if url.scheme == "unix":
        connection = _UnixConnection(url.path, timeout=30)
    elif url.scheme == "https":
        connection = http.client.HTTPSConnection(url.hostname, url.port, timeout=30, context=UNVERIFIED)
    else:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read(), dict(answer.getheaders())
    finally:
        connection.close()


def model_refused(status: int, body: bytes) -> list:
    """A 4xx and no model output: the engine's private endpoints answer 200 with JSON."""
    text = body.decode(errors="replace")[:200]
    if 400 <= status < 500 and '"choices"' not in text and "n_ctx" not in text and "slot" not in text:
        return refused(f"{status} {text}")
    return allowed(f"{status} {text}")


def engine_attack(engine: str, key: str | None, path: str = "/v1/chat/completions") -> list:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    body = json.dumps({"model": "smollm2", "max_tokens": 2,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    try:
        status, text, _ = raw_request(engine, "POST", path, headers, body)
    except OSError as error:
        return refused(f"no connection: {error}")
    return model_refused(status, text)


def gateway_path_attack(base: str, path: str, token: str) -> list:
    status, text, _ = raw_request(base, "GET", path, {"Authorization": f"Bearer {token}"})
    if status == 404 and '"error"' in text.decode(errors="replace"):
        return refused(f"404 {text.decode()[:120]}")
    return allowed(f"{status} {text.decode(errors='replace')[:160]}")


def login_as(hub: str, name: str, password: str) -> list:
    with httpx.Client(verify=False, timeout=30, follow_redirects=False) as client:
        page = client.get(f"{hub}/hub/login")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        form = {"username": name, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
        answer = client.post(f"{hub}/hub/login", data=form)
        cookies = [value for key, value in answer.headers.multi_items() if key.lower() == "set-cookie"]
        if answer.status_code in (302, 303) and any("jupyterhub-session-id" in c or "hub-login" in c
                                                    for c in cookies):
            return allowed(f"{answer.status_code} logged in as {name}")
        return refused(f"{answer.status_code}")


def forged_cookie(hub: str, victim: str) -> list:
    from tornado.web import create_signed_value

    # The cookie secret is root's; the best a student can do is sign with a guess.
    value = create_signed_value(os.urandom(32).hex(), "jupyterhub-hub-login", victim)
    with httpx.Client(verify=False, timeout=30, follow_redirects=False) as client:
        answer = client.get(f"{hub}/hub/api/user",
                            headers={"Cookie": f"jupyterhub-hub-login={value.decode()}"})
    if answer.status_code == 200 and victim in answer.text:
        return allowed(f"200 {answer.text[:120]}")
    return refused(f"{answer.status_code}")


def hub_api_as_me(hub: str, token: str, method: str, path: str) -> list:
    answer = httpx.request(method, f"{hub}/hub/api{path}", headers={"Authorization": f"token {token}"},
                           verify=False, timeout=30)
    if answer.status_code in (401, 403, 404):
        return refused(f"{answer.status_code}")
    return allowed(f"{answer.status_code} {answer.text[:160]}")


def proxy_route_attack(proxy_api: str, victim: str, own_server: str) -> list:
    body = json.dumps({"target": own_server}).encode()
    try:
        status, text, _ = raw_request(proxy_api, "POST", f"/api/routes/user/{victim}", {}, body)
    except OSError as error:
        return refused(f"no connection: {error}")
    return refused(f"{status}") if status in (401, 403) else allowed(f"{status} {text[:120]!r}")


def server_attack(base: str, victim: str, token: str) -> list:
    answer = httpx.get(f"{base}/user/{victim}/api/contents", headers={"Authorization": f"token {token}"},
                       verify=False, timeout=30, follow_redirects=False)
    if answer.status_code == 200:
        return allowed(f"200 {answer.text[:160]}")
    return refused(f"{answer.status_code}")


def direct_server_attack(url: str, token: str) -> list:
    """The victim's Jupyter server's own port on loopback, skipping the proxy."""
    try:
        answer = httpx.get(f"{url}api/contents", headers={"Authorization": f"token {token}"}, timeout=30,
                           follow_redirects=False)
    except httpx.HTTPError as error:
        return refused(f"no connection: {error!r}")
    return allowed(f"200 {answer.text[:160]}") if answer.status_code == 200 else refused(f"{answer.status_code}")


def readable_processes() -> dict:
    """Every command line and environment this account can read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        record = {}
        for name in ("cmdline", "environ"):
            try:
                record[name] = (entry / name).read_bytes().decode(errors="replace")
            except OSError:
                pass
        found[entry.name] = record
    return found


def attempt(t: dict) -> dict:
    token = os.environ["JUPYTERHUB_API_TOKEN"]
    results: dict[str, list] = {}
    results["another student's home: list"] = file_attack(t["victim_home"], "list")
    results["another student's notebook: read"] = file_attack(t["victim_notebook"], "read")
    results["another student's notebook: change"] = file_attack(t["victim_notebook"], "write")
    for pid in t["victim_pids"]:
        results[f"another student's process {pid}: environment"] = file_attack(f"/proc/{pid}/environ", "read")
        results[f"another student's process {pid}: signal"] = signal_attack(pid)
    for name, pid in t["hub_pids"].items():
        results[f"{name} ({pid}): environment"] = file_attack(f"/proc/{pid}/environ", "read")
        results[f"{name} ({pid}): signal"] = signal_attack(pid)
    results["the hub's state folder: list"] = file_attack(t["state"], "list")
    for path in t["state_files"]:
        results[f"{path}: read"] = file_attack(path, "read")
        results[f"{path}: change"] = file_attack(path, "write")
    for folder in t["code_folders"]:
        results[f"{folder}: plant code"] = new_file_attack(folder)
    results["the engine's port without a key"] = engine_attack(t["engine"], None)
    results["the engine's port with my hub token as its key"] = engine_attack(t["engine"], token)
    # vLLM answers a chat there without its key (SageMaker's route); llama-server has none
    results["the engine's /invocations without a key"] = engine_attack(t["engine"], None, "/invocations")
    for base in (t["gateway"], t["hub"]):
        for path in t["gateway_paths"]:
            results[f"{base}{path}"] = gateway_path_attack(base, path, token)
    results[f"log in as {t['victim']} with my own password"] = login_as(t["hub"], t["victim"], t["my_password"])
    results[f"a cookie forged for {t['victim']}"] = forged_cookie(t["hub"], t["victim"])
    results["the hub's user list with my token"] = hub_api_as_me(t["hub"], token, "GET", "/users")
    results[f"a token for {t['victim']} with my token"] = hub_api_as_me(
        t["hub"], token, "POST", f"/users/{t['victim']}/tokens")
    results[f"stop {t['victim']}'s server with my token"] = hub_api_as_me(
        t["hub"], token, "DELETE", f"/users/{t['victim']}/server")
    results[f"a proxy route to me for {t['victim']}'s URL"] = proxy_route_attack(
        t["proxy_api"], t["victim"], t["my_server"])
    results[f"{t['victim']}'s server through the hub with my token"] = server_attack(t["hub"], t["victim"], token)
    results[f"{t['victim']}'s server on its own port with my token"] = direct_server_attack(t["victim_server"], token)
    return {"results": results, "processes": readable_processes(), "uid": os.getuid(),
            "pid": os.getpid()}
