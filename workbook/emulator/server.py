"""The Starlette app and the uvicorn server that runs it in a thread of its own.

Its own thread and its own event loop: starting the emulator from a Jupyter cell (whose
loop is already running) or from a test never blocks the caller's loop, and the caller's
blocking clients (boto3) never block the server's.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from . import bedrock_api, ollama_api, openai_api, vllm_api
from .exchange import RequestLog, StreamAborted, json_response
from .faults import FaultQueue


@dataclass
class State:
    """What every route shares: the backend, the accepted models and their lifecycle, faults, the log."""

    backend: object
    models: tuple[str, ...]
    deployments: tuple[str, ...]
    api_key: str
    # Bedrock model id -> ACTIVE | LEGACY | EOL; ids not named here are ACTIVE.
    lifecycle: dict[str, str] = field(default_factory=dict)
    # Bedrock base ids served only through an inference profile (their us./eu./global. ids work).
    profile_only: frozenset[str] = frozenset()
    faults: FaultQueue = field(default_factory=FaultQueue)
    log: RequestLog = field(default_factory=RequestLog)


def _management_routes(state: State) -> list[Route]:
    # Control routes: they never consume a fault and are not logged as model requests.
    async def faults(request: Request):
        if request.method == "GET":
            return json_response({"pending": state.faults.pending()})
        try:
            body = await request.json()
            options = {k: v for k, v in body.items() if k not in ("fault", "times")}
            fault = state.faults.inject(body["fault"], body.get("times", 1), **options)
        except (ValueError, KeyError, TypeError, AttributeError) as problem:
            return json_response({"error": str(problem) or "body must be {\"fault\": name, ...}"}, 400)
        return json_response({"injected": fault.to_dict(), "times": body.get("times", 1)})

    async def reset(request: Request):
        state.faults.clear()
        state.log.clear()
        return json_response({"reset": True})

    async def requests(request: Request):
        return json_response([record.to_dict() for record in state.log.snapshot()])

    return [
        Route("/emulator/faults", faults, methods=["GET", "POST"]),
        Route("/emulator/reset", reset, methods=["POST"]),
        Route("/emulator/requests", requests, methods=["GET"]),
    ]


def build_app(state: State) -> Starlette:
    return Starlette(routes=[
        *_management_routes(state), *openai_api.routes(state), *vllm_api.routes(state),
        *ollama_api.routes(state), *bedrock_api.routes(state),
    ])


class _QuietAborts(logging.Filter):
    """A cut_stream(mode="abort") is deliberate: keep its traceback out of the output."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, StreamAborted):
                return False
            exc = exc.__cause__ or exc.__context__ or (
                exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) and exc.exceptions else None)
        return True


class _QuietDisconnects(logging.Filter):
    """A client that stops reading and closes mid-stream is normal: do not print about it.

    After a send to a lost connection fails, asyncio drops each further write and, from the
    fifth on, logs "socket.send() raised exception." at WARNING; with no logging configured
    that goes to a student's notebook. Only that message is dropped, and only from the
    emulator's own server thread: anything else asyncio reports still shows.
    """

    MESSAGE = "socket.send() raised exception."

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName.startswith(THREAD_PREFIX) and record.msg == self.MESSAGE)


THREAD_PREFIX = "workbook-emulator-"
logging.getLogger("uvicorn.error").addFilter(_QuietAborts())
logging.getLogger("asyncio").addFilter(_QuietDisconnects())


class ServerThread:
    """uvicorn on 127.0.0.1 in a daemon thread; ``start`` returns once it accepts connections."""

    def __init__(self, app, *, port: int = 0, host: str = "127.0.0.1"):
        self.app, self.host, self.requested_port = app, host, port
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        # Bind here, in the caller's thread: port=0 resolves at once and a busy port fails loudly.
        # proto=IPPROTO_TCP matters: asyncio disables Nagle only on sockets that say they are
        # TCP, and with proto 0 every keep-alive request waited ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError:
            sock.close()
            raise
        sock.listen(2048)  # 64 concurrent streams connect at once; the default queue is smaller
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", ws="none",
            timeout_graceful_shutdown=0.3, timeout_keep_alive=5, backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True,
                                        name=f"{THREAD_PREFIX}{self.port}")
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"emulator failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("emulator did not start in time")
            time.sleep(0.005)

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        except BaseException as error:  # reported to start(); the thread must not die silently
            self._error = error
        finally:
            loop.close()
            sock.close()

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s / 2)
        if self._thread.is_alive():  # streams still open after the grace period
            self._server.force_exit = True
            self._thread.join(timeout_s / 2)
        self._server = self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
