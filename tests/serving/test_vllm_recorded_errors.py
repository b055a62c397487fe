"""The errors the real vLLM answered (``vllm_answers.json``, recorded with its version), replayed
byte for byte to the workbook's ``vllm`` provider through the real openai SDK.

Runs without vLLM: a tiny server on 127.0.0.1 sends each recorded answer, byte for byte. vLLM's
shapes are its own (``"type": "NotFoundError"``, ``"code": 404``) where OpenAI says
``"invalid_request_error"`` / ``"model_not_found"``: the provider must turn both into the same
typed errors. ``test_vllm_engine.py`` checks the recording against a running vLLM, and
``tests/emulator/test_emu_vllm.py`` the emulator's ``/vllm/v1`` against the recording.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import BaseModel

from workbook.ai import AISettings, Message, ModelNotFoundError, ProviderError, create_ai_provider
from workbook.ai.errors import StructuredOutputError
from workbook.ai.registry import get_spec

RECORDED = json.loads(Path(__file__).with_name("vllm_answers.json").read_text())


class Replay:
    """Answers every POST with the recorded answer ``case`` names."""

    def __init__(self) -> None:
        self.case = "unknown_model"
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                answer = RECORDED["answers"][replay.case]
                body = json.dumps(answer["body"]).encode()
                self.send_response(answer["status"])
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture(scope="module")
def replay():
    server = Replay()
    yield server
    server.server.shutdown()
    server.server.server_close()


def provider_at(replay: Replay):
    # The vllm provider's own URL setting, as its registry entry names it.
    url_field = get_spec("vllm").url_field
    return create_ai_provider(AISettings(provider="vllm", model="smollm2", max_retries=0,
                                         **{url_field: replay.base_url}))


class Route(BaseModel):
    team: str


@pytest.mark.parametrize("case, expected, says", [
    ("unknown_model", ModelNotFoundError, "does not exist"),
    ("prompt_too_long", ProviderError, "maximum context length"),
    ("bad_schema", ProviderError, "Grammar error"),
])
async def test_each_recorded_vllm_error_becomes_a_typed_error_with_a_hint(replay, case, expected, says):
    replay.case = case
    provider = provider_at(replay)
    try:
        with pytest.raises(expected) as raised:
            await provider.chat([Message("user", "Hi")], max_tokens=4,
                                **({"response_format": Route} if case == "bad_schema" else {}))
    finally:
        await provider.aclose()
    error = raised.value
    assert says in str(error), "vLLM's own message reaches the student"
    assert error.hint and error.provider == "vllm"
    # A schema vLLM's grammar compiler refuses is the request's fault, not an answer off the schema.
    assert not isinstance(error, StructuredOutputError)

