"""Start and stop a classroom: JupyterHub, its proxy, the shared model and the gateway.

    with Classroom(students=20, port=8000, state=Path("classroom")) as room:
        print(room.url, room.passwords)

Run as root (a class): each student is a Unix account of their own (``accounts``), logs in
with their own password (PAM, ``authenticator``) and gets a server running as that account
(``spawner``); the hub, its proxy, the model server, the gateway and ``STATE`` stay root's.
``demo=True`` is the single-account mode for an instructor trying it alone: every server runs
as the instructor, behind one shared password -- no isolation at all, and it says so.

The hub is the one child of this process; it starts configurable-http-proxy, the two
services (``llm-engine``: llama-server, or the real vLLM with ``engine="vllm"``; ``llm``: the
gateway) and each student's server, and
stops them all when it stops. ``stop`` then ends whatever is left: the processes carrying this
run's marker (the hub's own children), vLLM's (by its network namespace: its engine renames
itself, which hides the marker), and every process of every student account, by uid.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx

from ..ports import free_port
from ..processes import processes_marked
from ..readiness import answered, wait_until_ready
from ..serving.llama_server import DEFAULT_ALIAS, LlamaServer
from . import accounts, tls
from .errors import ClassroomError
from .proxy import ensure_proxy
from .roster import ensure_roster, read_roster

CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")
MARKER = "WORKBOOK_CLASSROOM_RUN"
START_TIMEOUT_S = 90.0
ENGINES = ("llama-server", "vllm")
NOT_ROOT = ("a class needs root: each student gets a Unix account of their own, and without one "
            "they would all run as you, with your files, processes and tokens. Run it as root on "
            "a class machine (or use The Littlest JupyterHub), or add --demo to try it alone")
DEMO_WARNING = ("--demo: every student's server runs as YOUR account behind ONE shared password: "
                "anyone who logs in can read and change your files and everyone else's. "
                "For an instructor trying the classroom alone, never for a class.")


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
    ``parallel`` slots (continuous batching) on ``threads`` CPU threads (default, as ``serve``'s:
    2 for llama-server, 1 for vLLM, whose pinned threads slow down tenfold when other work
    shares their cores).

    ``engine``: ``"llama-server"`` (the default) or ``"vllm"``, the real vLLM's CPU build
    (``make vllm``), where ``parallel`` is its ``--max-num-seqs``. vLLM's API key guards only
    its ``/v1`` paths (``/invocations`` answers without it), so it never listens on a port a
    student can reach: it runs in network and PID namespaces of its own (``namespaces``) and
    answers the gateway on a Unix socket in ``state`` (root's alone).

    HTTPS: ``ssl_cert``/``ssl_key`` if given; otherwise, when ``host`` is not loopback (or
    ``https=True``), a self-signed certificate made in ``STATE/tls``; plain HTTP off loopback
    only with ``insecure_http=True``."""

    def __init__(self, *, students: int = 10, host: str = "127.0.0.1", port: int = 8000,
                 state: str | os.PathLike = "classroom", per_student: int = 2, parallel: int = 8,
                 threads: int | None = None, n_ctx: int = 2048, idle_timeout_s: int = 3600,
                 model_path: str | os.PathLike | None = None, poll_interval_s: int = 10,
                 engine: str = "llama-server", demo: bool = False, https: bool | None = None,
                 ssl_cert: str | os.PathLike | None = None, ssl_key: str | os.PathLike | None = None,
                 insecure_http: bool = False, account_prefix: str = accounts.PREFIX,
                 home_root: str | os.PathLike = "/home",
                 progress: Callable[[str], None] | None = print):
        if engine not in ENGINES:
            raise ClassroomError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}")
        if students < 1 or per_student < 1 or parallel < 1:
            raise ClassroomError("--students, --per-student and --parallel must be 1 or more")
        if (ssl_cert is None) != (ssl_key is None):
            raise ClassroomError("--ssl-cert and --ssl-key go together: give both, or neither")
        if insecure_http and (ssl_cert is not None or https):
            raise ClassroomError("--insecure-http and a certificate exclude each other: choose one")
        self.students, self.host, self.port = students, host, port
        self.state = Path(state).resolve()
        threads = threads or (1 if engine == "vllm" else 2)
        self.per_student, self.parallel, self.threads, self.n_ctx = per_student, parallel, threads, n_ctx
        self.idle_timeout_s, self.model_path, self.poll_interval_s = idle_timeout_s, model_path, poll_interval_s
        self.engine_name, self.demo = engine, demo
        self.account_prefix, self.home_root = account_prefix, Path(home_root)
        self.insecure_http = insecure_http
        self.https = (ssl_cert is not None) or bool(https) or (
            https is None and not insecure_http and not tls.is_loopback(host))
        self.ssl_cert = Path(ssl_cert).resolve() if ssl_cert is not None else None
        self.ssl_key = Path(ssl_key).resolve() if ssl_key is not None else None
        self.say = progress or (lambda text: None)
        self.marker = uuid.uuid4().hex
        self.process: subprocess.Popen | None = None
        self.engine: LlamaServer | None = None
        self.startup_s: float | None = None
        self.new_passwords: list[str] = []  # students whose password was made by this start
        self.gateway_port: int | None = None
        self._trust: ssl.SSLContext | None = None
        self._engine_has_key = False
        self._engine_networks: set[str] = set()  # vLLM's own network namespaces (each start's)

    # -- addresses ------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    @property
    def url(self) -> str:
        """The address to give the class (with 0.0.0.0, this machine's name)."""
        host = socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def llm_url(self) -> str:
        return f"{self.local_url}/services/llm/v1"

    @property
    def servers_llm_url(self) -> str:
        """The model as the students' servers reach it: the gateway itself, on loopback (no TLS,
        no certificate to trust; what their ``AI__OPENAI_BASE_URL`` says)."""
        return f"http://127.0.0.1:{self.gateway_port}/services/llm/v1"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What an httpx call to the hub trusts: the class's own certificate, if self-signed."""
        if not self.https or self.ssl_cert is not None:
            return True
        if self._trust is None:
            self._trust = ssl.create_default_context(cafile=str(self.certificate))
        return self._trust

    @property
    def certificate(self) -> Path | None:
        if not self.https:
            return None
        return self.ssl_cert or self.state / "tls" / "cert.pem"

    @property
    def fingerprint(self) -> str | None:
        """The SHA-256 fingerprint students compare with what their browser shows."""
        return tls.fingerprint(self.certificate) if self.certificate and self.certificate.exists() else None

    @property
    def engine_socket(self) -> Path | None:
        """vLLM's Unix socket (``engine="vllm"``; llama-server listens on a loopback port)."""
        return self.state / "llm-engine.sock" if self.engine_name == "vllm" else None

    @property
    def engine_url(self) -> str:
        """The model server itself (benchmarks compare the gateway with it): llama-server's
        loopback port, or -- with ``engine_socket`` -- a URL whose host only names vLLM: send
        it through ``httpx.HTTPTransport(uds=room.engine_socket)``."""
        if self.engine_socket is not None:
            return "http://llm-engine/v1"
        return self.engine.base_url

    @property
    def engine_key(self) -> str:
        """The model server's own key (benchmarks send it when they go round the gateway)."""
        return (self.state / "engine-key").read_text().strip()

    @property
    def password(self) -> str:
        """The shared password of ``demo`` mode (a class has one per student: ``passwords``)."""
        return (self.state / "workshop-password").read_text().strip()

    @property
    def passwords(self) -> dict[str, str]:
        """The roster: {"student1": "...", ...} (STATE/roster.csv)."""
        if self.demo:
            return {name: self.password for name in self.usernames}
        return {name: password for name, password in read_roster(self.state / "roster.csv").items()
                if name in self.usernames}

    @property
    def instructor_token(self) -> str:
        return (self.state / "instructor-token").read_text().strip()

    @property
    def usernames(self) -> list[str]:
        return [f"student{number}" for number in range(1, self.students + 1)]

    def account(self, student: str) -> str:
        """The Unix account behind a hub name (``student2`` -> ``wb-student2``)."""
        return accounts.system_name(student, self.account_prefix)

    def home(self, student: str) -> Path:
        """That student's home folder (their notebooks are in ``notebooks/``)."""
        if self.demo:
            return self.state / "homes" / student
        return self.home_root / self.account(student)

    # -- the hub's REST API, as the instructor -----------------------------------------------
    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"token {token or self.instructor_token}"}
        return httpx.request(method, f"{self.local_url}/hub/api{path}", headers=headers,
                             timeout=kwargs.pop("timeout", 30.0), verify=kwargs.pop("verify", self.verify),
                             **kwargs)

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
        answer = httpx.get(f"{self.local_url}/services/llm/usage", verify=self.verify,
                           headers={"Authorization": f"Bearer {self.instructor_token}"}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Classroom":
        if self.process is not None:
            return self
        if self.demo:
            self.say(f"WARNING: {DEMO_WARNING}")
        elif os.geteuid() != 0:
            raise ClassroomError(NOT_ROOT)
        if not port_is_free(self.host, self.port):
            raise ClassroomError(f"port {self.port} on {self.host} is taken (another hub or server is "
                                 "listening there): stop it or choose another with --port")
        if self.insecure_http and not tls.is_loopback(self.host):
            self.say("WARNING: --insecure-http: passwords, cookies and API tokens cross the network "
                     "in clear; anyone on it can read them.")
        started = time.perf_counter()
        self.state.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state, 0o700)
        _secret_file(self.state / "instructor-token", lambda: secrets.token_hex(32))
        _secret_file(self.state / "engine-key", lambda: secrets.token_hex(32))
        self.engine = self._engine()  # before anything is installed or made: a class without it is refused
        if self.https and self.ssl_cert is None:
            tls.self_signed(self.state / "tls", self.host)
        proxy = ensure_proxy(self.say)
        student_python = self._prepare_students()
        self.gateway_port = free_port()
        settings = {
            "state": str(self.state), "students": self.usernames, "host": self.host, "port": self.port,
            "demo": self.demo, "account_prefix": self.account_prefix, "student_python": student_python,
            "ssl_cert": str(self.certificate) if self.https else None,
            "ssl_key": str(self.ssl_key or self.state / "tls" / "key.pem") if self.https else None,
            "hub_port": free_port(), "proxy_api_port": free_port(), "gateway_port": self.gateway_port,
            "engine": self.engine_name, "engine_port": self.engine.port,
            "engine_socket": str(self.engine_socket) if self.engine_socket else None,
            "engine_key_file": str(self.state / "engine-key") if self._engine_has_key else None,
            "engine_env": self._engine_env(),
            # The model server's chatter goes to its own log, not the hub's.
            "engine_command": [sys.executable, "-m", "workbook.classroom.logged",
                               *(["--alone", "--socket", str(self.engine_socket)]
                                 if self.engine_socket else []),
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
            # umask 077: whatever the hub and its services write is theirs alone.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)], cwd=self.state, env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                umask=0o077)
        finally:
            log.close()
        self._wait_until_ready(started)
        self._note_engine_networks()
        self.startup_s = time.perf_counter() - started
        return self

    def _prepare_students(self) -> str:
        """Accounts, passwords and the students' Python (a class); the shared password (demo).
        Returns the interpreter the students' servers run."""
        if self.demo:
            (self.state / "homes").mkdir(exist_ok=True)
            # Readable enough to write on a whiteboard; SharedPasswordAuthenticator wants >= 8 chars.
            _secret_file(self.state / "workshop-password", lambda: secrets.token_urlsafe(9))
            return sys.executable
        from .student_env import ensure_student_python

        created_file = self.state / "accounts-created"
        created = set(created_file.read_text().split()) if created_file.exists() else set()
        passwords, self.new_passwords = ensure_roster(self.state / "roster.csv", self.usernames)
        for student in self.usernames:
            name = self.account(student)
            if accounts.ensure_account(name, self.home_root):
                created.add(name)
                descriptor = os.open(created_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write("\n".join(sorted(created)) + "\n")
            accounts.set_password(name, passwords[student])
        first = pwd.getpwnam(self.account(self.usernames[0]))
        return str(ensure_student_python(first.pw_uid, first.pw_gid))

    def _engine(self) -> LlamaServer:
        """The model server's command line and port (the hub starts it, as service llm-engine)."""
        from ..serving.build import BuildUnavailable, ensure_llama_server

        if self.engine_name == "vllm":
            return self._vllm()
        binary = None
        if self.engine_name == "llama-server":
            try:
                binary = ensure_llama_server(progress=self.say)
            except BuildUnavailable as unavailable:
                if not self.demo:
                    # python -m llama_cpp.server has no key: every student could use it directly.
                    raise ClassroomError(
                        f"a class needs llama-server ({unavailable}); the one-at-a-time fallback "
                        "has no API key, so any student could go round the gateway: build it with "
                        "`make llama-server`, or try the classroom alone with --demo") from None
                self.say(f"{unavailable}\nThe demo is served by python -m llama_cpp.server instead "
                         "(one request at a time).")
        if binary is None:
            if not self.demo:
                raise ClassroomError("a class needs the llama-server engine (the llama-cpp-python "
                                     "server has no API key): use --demo to try the other alone")
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

    def _vllm(self) -> LlamaServer:
        """The real vLLM on a Unix socket, its key in its environment (root's processes' only)."""
        from ..serving.errors import VllmUnavailable
        from ..serving.vllm_server import VllmServer

        socket_path = self.engine_socket
        # A Unix socket's path has room for 107 bytes (vLLM's engine adds its own beside it).
        if len(str(socket_path)) > 100:
            raise ClassroomError(f"--state {self.state} is too long a path for vLLM's socket "
                                 f"({socket_path}): choose a shorter folder")
        engine = VllmServer(self.model_path, threads=self.threads, max_model_len=self.n_ctx,
                            max_num_seqs=self.parallel, uds=socket_path, progress=self.say,
                            extra_args=("--disable-uvicorn-access-log",))
        try:
            engine.prepare()
        except VllmUnavailable as unavailable:
            raise ClassroomError(f"--engine vllm: {unavailable}") from None
        self.say(f"The class's model: vLLM {engine.version} on the CPU, dtype {engine.dtype} "
                 f"({engine.dtype_reason}), up to {self.parallel} requests decoded together.")
        self._engine_has_key = True
        return engine

    def _engine_env(self) -> dict[str, str]:
        """What the model server's service gets besides the hub's own variables (the hub hands
        a service nothing else; its key is added from its file by the hub's configuration)."""
        if self.engine_name != "vllm":
            return {}
        ipc = self.state / "llm-engine-ipc"  # vLLM's processes talk over Unix sockets made here
        ipc.mkdir(mode=0o700, exist_ok=True)
        return {**self.engine.engine_env(), "VLLM_RPC_BASE_PATH": str(ipc),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    def _wait_until_ready(self, started: float) -> None:
        """The hub answers through the proxy, and the gateway reaches the model server; else
        everything started is stopped. vLLM loads for half a minute or more: its own start-up
        limit, and a progress line every few seconds."""
        vllm = self.engine_name == "vllm"
        timeout_s = START_TIMEOUT_S + (self.engine.startup_timeout_s if vllm else 0)
        wait_until_ready(
            self.process, [(f"{self.local_url}/hub/api", answered),
                           (f"{self.local_url}/services/llm/", lambda answer: answer.json().get("engine") == "up")],
            started=started, timeout_s=timeout_s, stop=self.stop, interval_s=0.25,
            probe_timeout_s=2.0, verify=self.verify, waiting=self.engine.note_progress() if vllm else None,
            exited=lambda code: ClassroomError(f"JupyterHub exited with code {code}:\n{self.log_tail()}"),
            not_ready=lambda url: ClassroomError(
                f"the classroom was not ready within {timeout_s:g} s (waiting for {url}):\n"
                f"{self.log_tail()}\nmodel server log ({self.state / 'llm-engine.log'}):\n{self.engine_log_tail()}"))

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

    def _note_engine_networks(self) -> None:
        """Remembers the network of the model server's own (vLLM), to find all its processes."""
        from .namespaces import namespace_of

        ours = namespace_of()
        for pid in processes_with_marker(self.marker):
            try:
                network = namespace_of(pid)
            except OSError:
                continue
            if network != ours:
                self._engine_networks.add(network)

    def engine_processes(self) -> list[int]:
        """vLLM's processes (its API server, engine core and worker): everything in its network."""
        from .namespaces import processes_in

        return sorted({pid for network in self._engine_networks for pid in processes_in(network)})

    def _processes(self) -> set[int]:
        """This class's processes: the marker's, and the model server's own network's (vLLM's
        engine renames itself, which hides its environment, the marker with it)."""
        return set(processes_with_marker(self.marker)) | set(self.engine_processes())

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _student_uids(self) -> list[int]:
        if self.demo:
            return []
        return [uid for uid in (accounts.uid_of(self.account(name)) for name in self.usernames)
                if uid is not None and uid != 0]

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to the hub (it stops servers, services and proxy), then anything left over:
        what carries this run's marker or runs in vLLM's network, and every process of every
        student account."""
        self._note_engine_networks()  # the hub may have restarted the model server since start
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        deadline = time.monotonic() + 5
        while self._processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in self._processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for uid in self._student_uids():
            accounts.end_processes_of(uid)

    def leftovers(self) -> list[int]:
        """Processes of this class still running: its own, and any student account's."""
        found = self._processes()
        for uid in self._student_uids():
            found |= set(accounts.processes_of(uid))
        return sorted(found)

    def remove_accounts(self) -> list[str]:
        """Delete the Unix accounts (and homes) this class created; returns their names.
        Accounts it found already there are left alone."""
        created_file = self.state / "accounts-created"
        if not created_file.exists():
            return []
        names = created_file.read_text().split()
        settings_file = self.state / "classroom.json"
        # The prefix the class was started with (the command line does not repeat it).
        prefix = (json.loads(settings_file.read_text()).get("account_prefix", self.account_prefix)
                  if settings_file.exists() else self.account_prefix)
        for name in names:
            accounts.remove_account(name, prefix)
        created_file.unlink()
        return names

    def __enter__(self) -> "Classroom":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _has_idle_culler() -> bool:
    import importlib.util

    return importlib.util.find_spec("jupyterhub_idle_culler") is not None


__all__ = ["Classroom", "DEFAULT_ALIAS", "port_is_free", "processes_with_marker"]
