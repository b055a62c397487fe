"""The real vLLM (its CPU build, ``make vllm``) serving the bundled model, and the workbook's
``vllm`` provider against it through its real SDK.

One server for the module (it takes half a minute to load and 3-4 GB): start, the conformance
suite, structured output, a ``/metrics`` read, the errors it really answers, stop with every
process gone. Nothing here measures speed, so these run with the other tests, marked ``vllm``:
on a new machine they go last, after make test's background install has had the time it needs.
Without the extra a developer's run skips them (saying ``make vllm``); on CI they wait for that
install instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel

from workbook.ai import Message, create_ai_provider
from workbook.ai.errors import ModelNotFoundError, ProviderError
from workbook.conformance import check_provider_async
from workbook.serving import VllmServer, read_metrics
from workbook.serving import vllm_env

pytestmark = [pytest.mark.vllm, pytest.mark.slow,
              # the first run on a machine may wait for make test's background install (minutes)
              pytest.mark.timeout(900, func_only=False)]

RECORDED = Path(__file__).with_name("vllm_answers.json")


@pytest.fixture(scope="module")
def vllm_server():
    if not vllm_env.installed() and os.environ.get("CI") != "true":
        pytest.skip(f"vLLM is not installed: {vllm_env.HINT}")
    vllm_env.ensure_model(progress=print)  # waits for make test's background install, if running
    server = VllmServer(threads=1, kv_cache_gib=1, max_model_len=1024, progress=print)
    with server:
        yield server
    assert server.process_group and not server.process_ids(), "a vLLM process outlived stop()"


@pytest.fixture
async def provider(vllm_server):
    provider = create_ai_provider(vllm_server.settings("vllm", max_retries=0, timeout_s=60.0))
    yield provider
    await provider.aclose()


async def test_the_conformance_suite_passes_against_the_real_vllm(provider):
    report = await check_provider_async(provider, timeout_s=120.0)
    outcome = {check.name: check.passed for check in report.checks}
    assert all(passed is not False for passed in outcome.values()), report
    # The checks a real server can answer (faults need the emulator: those skip).
    for name in ("round trip", "streams in pieces", "usage reported", "8 concurrent calls overlap",
                 "structured output (response_format)"):
        assert outcome.get(name) is True, f"{name}: {outcome.get(name)}\n{report}"


async def test_the_responses_api_passes_the_same_suite_against_the_real_vllm(vllm_server):
    """vLLM serves ``/v1/responses`` as well: the same provider with ``AI__OPENAI_API=responses``
    (its own request and event names) passes what the Chat Completions run passes."""
    provider = create_ai_provider(vllm_server.settings("vllm", max_retries=0, timeout_s=60.0,
                                                       openai_api="responses"))
    try:
        report = await check_provider_async(provider, timeout_s=120.0)
        reply = await provider.chat([Message("user", "Route this ticket: I was charged twice.")],
                                    max_tokens=60, temperature=0.0, response_format=Route)
    finally:
        await provider.aclose()
    outcome = {check.name: check.passed for check in report.checks}
    assert all(passed is not False for passed in outcome.values()), report
    for name in ("round trip", "streams in pieces", "usage reported", "structured output (response_format)"):
        assert outcome.get(name) is True, f"{name}: {outcome.get(name)}\n{report}"
    assert isinstance(reply.parsed, Route), reply.content
    # vLLM's access log (uvicorn's, in the server's log) says which route answered.
    routes = vllm_server.log_tail(lines=2000)
    assert '"POST /v1/responses HTTP/1.1" 200' in routes, "no request reached /v1/responses"


class Route(BaseModel):
    # A closed set, as notebook 08's router has: with a free string the 135M model may write on to
    # max_tokens inside it (it did in float32, on a CPU without bf16), and the JSON never closes.
    team: Literal["billing", "technical", "account", "shipping"]
    urgent: bool


async def test_structured_output_comes_back_valid_and_parsed(provider):
    reply = await provider.chat([Message("user", "Route this ticket: I was charged twice.")],
                                max_tokens=60, temperature=0.0, response_format=Route)
    assert isinstance(reply.parsed, Route), reply.content
    assert reply.usage.output_tokens and reply.usage.input_tokens


async def test_metrics_count_requests_and_the_kv_cache(provider, vllm_server):
    before = read_metrics(vllm_server.url)
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting",
                 "vllm:kv_cache_usage_perc", "vllm:prefix_cache_queries_total",
                 "vllm:prefix_cache_hits_total", "vllm:request_success_total"):
        assert name in before, f"{name} missing from /metrics: {sorted(before)[:40]}"
    await provider.chat([Message("user", "Name a colour.")], max_tokens=8, temperature=0.0)
    after = read_metrics(vllm_server.url)
    assert after["vllm:request_success_total"] == before["vllm:request_success_total"] + 1
    assert after["vllm:prefix_cache_queries_total"] > before["vllm:prefix_cache_queries_total"]


def _ask(server: VllmServer, body: dict) -> dict:
    answer = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=60)
    return {"status": answer.status_code, "body": answer.json()}


ERROR_REQUESTS = {
    "unknown_model": {"model": "no-such-model", "messages": [{"role": "user", "content": "Hi"}],
                      "max_tokens": 4},
    "prompt_too_long": {"model": "smollm2", "max_tokens": 4,
                        "messages": [{"role": "user", "content": "word " * 3000}]},
    "bad_schema": {"model": "smollm2", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}],
                   "response_format": {"type": "json_schema", "json_schema": {
                       "name": "broken", "schema": {"type": "no-such-type"}}}},
}


def shape(answer: dict) -> dict:
    """What a client relies on in an error: the status and the error object's keys and type."""
    error = answer["body"].get("error", {})
    return {"status": answer["status"], "keys": sorted(error), "type": error.get("type"),
            "code": error.get("code")}


def test_its_errors_have_the_shapes_recorded_for_the_emulator_tests(vllm_server):
    """``vllm_answers.json`` holds what this vLLM answered (with its version): the replay test
    and the emulator comparison read it. A new vLLM that answers otherwise fails here."""
    recorded = json.loads(RECORDED.read_text())
    assert recorded["vllm_version"] == vllm_server.version, (
        f"recorded with vLLM {recorded['vllm_version']}, running {vllm_server.version}: re-record "
        "with `python tests/serving/record_vllm_answers.py`")
    for case, body in ERROR_REQUESTS.items():
        assert shape(_ask(vllm_server, body)) == shape(recorded["answers"][case]), case


async def test_the_provider_turns_its_errors_into_typed_ones(vllm_server):
    unknown = create_ai_provider(vllm_server.settings("vllm", model="no-such-model", max_retries=0))
    try:
        with pytest.raises(ModelNotFoundError) as raised:
            await unknown.chat([Message("user", "Hi")], max_tokens=4)
        assert raised.value.hint
    finally:
        await unknown.aclose()
    provider = create_ai_provider(vllm_server.settings("vllm", max_retries=0))
    try:
        with pytest.raises(ProviderError) as raised:
            await provider.chat([Message("user", "word " * 3000)], max_tokens=4)
        assert raised.value.hint
    finally:
        await provider.aclose()
