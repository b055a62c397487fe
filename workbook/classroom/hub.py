"""Start and stop a classroom: JupyterHub, its proxy, the shared model and the gateway.

    with Classroom(students=20, port=8000, state=Path("classroom")) as room:
        print(room.url, room.password)

The hub is the one child of this process; it starts configurable-http-proxy, the two
services (``llm-engine``: llama-server; ``llm``: the gateway) and each student's server, and
stops them all when it stops. Every process carries a marker variable, so ``stop`` can also
find and end whatever a crash left behind -- and tests can check that nothing is left.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx

from ..probe import free_port, processes_marked
from ..serving.llama_server import DEFAULT_ALIAS, LlamaServer
from .errors import ClassroomError
from .proxy import ensure_proxy

CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")
MARKER = "WORKBOOK_CLASSROOM_RUN"
START_TIMEOUT_S = 90.0


def _secret_file(path: Path, make: Callable[[], str]) -> str:
    """The secret in ``path`` (mode 600), made on first use, kept across restarts."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(make() + "\n")
    os.chmod(path, 0o600)
    return path.read_text().strip()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def processes_with_marker(marker: str) -> list[int]:
    """Pids of the processes this classroom started (hub, proxy, services, servers, kernels)."""
    return processes_marked(MARKER, marker)


class Classroom:
    """``students`` accounts; ``per_student`` requests in flight each; the model server has
    ``parallel`` slots (continuous batching) on ``threads`` CPU threads."""

    def __init__(self, *, students: int = 10, host: str = "127.0.0.1", port: int = 8000,
                 state: str | os.PathLike = "classroom", per_student: int = 2, parallel: int = 8,
                 threads: int = 2, n_ctx: int = 2048, idle_timeout_s: int = 3600,
                 model_path: str | os.PathLike | None = None, poll_interval_s: int = 10,
                 engine: str = "llama-server",
                 progress: Callable[[str], None] | None = print):
        if students < 1 or per_student < 1 or parallel < 1:
            raise ClassroomError("--students, --per-student and --parallel must be 1 or more")
        self.students, self.host, self.port = students, host, port
        self.state = Path(state).resolve()
        self.per_student, self.parallel, self.threads, self.n_ctx = per_student, parallel, threads, n_ctx
        self.idle_timeout_s, self.model_path, self.poll_interval_s = idle_timeout_s, model_path, poll_interval_s
        self.engine_name = engine
        self.say = progress or (lambda text: None)
        self.marker = uuid.uuid4().hex
        self.process: subprocess.Popen | None = None
        self.engine: LlamaServer | None = None
        self.startup_s: float | None = None
        self._engine_has_key = False

    # -- addresses ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The address to give the class (with 0.0.0.0, this machine's name)."""
        host = socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def llm_url(self) -> str:
        return f"{self.local_url}/services/llm/v1"

    @property
    def engine_url(self) -> str:
        """llama-server itself, loopback only (benchmarks compare the gateway with it)."""
        return self.engine.base_url

    @property
    def engine_key(self) -> str:
        """llama-server's own key (benchmarks send it when they go round the gateway)."""
        return (self.state / "engine-key").read_text().strip()

    @property
    def password(self) -> str:
        return (self.state / "workshop-password").read_text().strip()

    @property
    def instructor_token(self) -> str:
        return (self.state / "instructor-token").read_text().strip()

    @property
    def usernames(self) -> list[str]:
        return [f"student{number}" for number in range(1, self.students + 1)]

    # -- the hub's REST API, as the instructor -----------------------------------------------
    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"token {token or self.instructor_token}"}
        return httpx.request(method, f"{self.local_url}/hub/api{path}", headers=headers,
                             timeout=kwargs.pop("timeout", 30.0), **kwargs)

    def token_for(self, student: str, *, expires_in: int | None = None, note: str = "workbook") -> str:
        """A fresh API token of ``student``'s (what benchmarks and tests use as a student's key)."""
        body: dict[str, Any] = {"note": note}
        if expires_in is not None:
            body["expires_in"] = expires_in
        answer = self.api("POST", f"/users/{student}/tokens", json=body)
        if answer.status_code not in (200, 201):
            raise ClassroomError(f"the hub refused a token for {student}: {answer.status_code} {answer.text[:200]}")
        return answer.json()["token"]

    def usage(self) -> dict:
        answer = httpx.get(f"{self.local_url}/services/llm/usage",
                           headers={"Authorization": f"Bearer {self.instructor_token}"}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Classroom":
        if self.process is not None:
            return self
        if not port_is_free(self.host, self.port):
            raise ClassroomError(f"port {self.port} on {self.host} is taken (another hub or server is "
                                 "listening there): stop it or choose another with --port")
        started = time.perf_counter()
        self.state.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state, 0o700)
        (self.state / "homes").mkdir(exist_ok=True)
        # Readable enough to write on a whiteboard; SharedPasswordAuthenticator wants >= 8 chars.
        _secret_file(self.state / "workshop-password", lambda: secrets.token_urlsafe(9))
        _secret_file(self.state / "instructor-token", lambda: secrets.token_hex(32))
        _secret_file(self.state / "engine-key", lambda: secrets.token_hex(32))
        proxy = ensure_proxy(self.say)
        self.engine = self._engine()
        settings = {
            "state": str(self.state), "students": self.students, "host": self.host, "port": self.port,
            "hub_port": free_port(), "proxy_api_port": free_port(), "gateway_port": free_port(),
            "engine_port": self.engine.port,
            "engine_key_file": str(self.state / "engine-key") if self._engine_has_key else None,
            # The model server's chatter goes to its own log, not the hub's.
            "engine_command": [sys.executable, "-m", "workbook.classroom.logged",
                               str(self.state / "llm-engine.log"), *self.engine.command],
            "model_alias": self.engine.alias, "proxy_command": str(proxy),
            "per_student": self.per_student, "poll_interval_s": self.poll_interval_s,
            "idle_culler": _has_idle_culler(), "idle_timeout_s": self.idle_timeout_s,
        }
        settings_file = self.state / "classroom.json"
        settings_file.write_text(json.dumps(settings, indent=2) + "\n")
        env = {**os.environ, "WORKBOOK_CLASSROOM_SETTINGS": str(settings_file), MARKER: self.marker,
               "PYTHONUNBUFFERED": "1"}
        env.pop("JUPYTERHUB_API_TOKEN", None)  # never hand a hub's token of ours to this one
        log = open(self.state / "jupyterhub.log", "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)], cwd=self.state, env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        try:
            self._wait_until_ready(started)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - started
        return self

    def _engine(self) -> LlamaServer:
        """The model server's command line and port (the hub starts it, as service llm-engine)."""
        from ..serving.build import BuildUnavailable, ensure_llama_server

        binary = None
        if self.engine_name == "llama-server":
            try:
                binary = ensure_llama_server(progress=self.say)
            except BuildUnavailable as unavailable:
                self.say(f"{unavailable}\nThe class is served by python -m llama_cpp.server instead "
                         "(one request at a time: fine for a handful of students).")
        if binary is None:
            engine = LlamaServer(self.model_path, engine="llama-cpp-python", threads=self.threads,
                                 n_ctx=self.n_ctx, port=free_port())
        else:
            # Its own key (read from a file: a command line is visible to every local user), so
            # a student's code cannot reach the model server except through the gateway.
            engine = LlamaServer(self.model_path, engine="llama-server", parallel=self.parallel,
                                 threads=self.threads, n_ctx=self.n_ctx, port=free_port(), binary=binary,
                                 extra_args=("--api-key-file", str(self.state / "engine-key")))
        self._engine_has_key = binary is not None
        return engine

    def _wait_until_ready(self, started: float) -> None:
        """The hub answers through the proxy, and the gateway reaches the model server."""
        deadline = started + START_TIMEOUT_S
        checks = [(f"{self.local_url}/hub/api", lambda answer: True),
                  (f"{self.local_url}/services/llm/", lambda answer: answer.json().get("engine") == "up")]
        while checks:
            if self.process.poll() is not None:
                raise ClassroomError(f"JupyterHub exited with code {self.process.returncode}:\n"
                                     f"{self.log_tail()}")
            url, ready = checks[0]
            try:
                answer = httpx.get(url, timeout=2.0)
                if answer.status_code == 200 and ready(answer):
                    checks.pop(0)
                    continue
            except (httpx.HTTPError, ValueError):
                pass
            if time.perf_counter() > deadline:
                raise ClassroomError(f"the classroom was not ready within {START_TIMEOUT_S:g} s "
                                     f"(waiting for {url}):\n{self.log_tail()}\n"
                                     f"model server log ({self.state / 'llm-engine.log'}):\n"
                                     f"{self.engine_log_tail()}")
            time.sleep(0.25)

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = (self.state / "jupyterhub.log").read_text(errors="replace")
        except OSError:
            return "(no hub log)"
        return "\n".join(text.splitlines()[-lines:])

    def engine_log_tail(self, lines: int = 8) -> str:
        try:
            text = (self.state / "llm-engine.log").read_text(errors="replace")
        except OSError:
            return "(no model server log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to the hub (it stops servers, services and proxy), then anything left over."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        deadline = time.monotonic() + 5
        while processes_with_marker(self.marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in processes_with_marker(self.marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def leftovers(self) -> list[int]:
        return processes_with_marker(self.marker)

    def __enter__(self) -> "Classroom":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _has_idle_culler() -> bool:
    import importlib.util

    return importlib.util.find_spec("jupyterhub_idle_culler") is not None


__all__ = ["Classroom", "DEFAULT_ALIAS", "port_is_free", "processes_with_marker"]
