"""Ollama's native API through httpx, as the workbook's ollama provider speaks it."""

import json

import httpx
import pytest

from workbook.ai.scripted import scripted_answer

PROMPT = [{"role": "user", "content": "Why is the sky blue?"}]
FINAL_FIELDS = {
    "model": str, "created_at": str, "message": dict, "done": bool, "done_reason": str,
    "total_duration": int, "load_duration": int, "prompt_eval_count": int,
    "prompt_eval_duration": int, "eval_count": int, "eval_duration": int,
}


@pytest.fixture
async def http(emu):
    async with httpx.AsyncClient(base_url=emu.url) as client:
        yield client


async def _lines(http, body):
    async with http.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        return [json.loads(line) async for line in response.aiter_lines() if line]


async def test_stream_is_ndjson_with_a_strict_final_line(http):
    lines = await _lines(http, {"model": "llama3.2", "messages": PROMPT})
    *pieces, final = lines
    assert "".join(p["message"]["content"] for p in pieces) == scripted_answer(PROMPT, 4096, source="emulator").text
    for piece in pieces:
        assert set(piece) == {"model", "created_at", "message", "done"} and piece["done"] is False
        assert piece["message"]["role"] == "assistant"
    assert set(final) == set(FINAL_FIELDS)
    for name, kind in FINAL_FIELDS.items():
        assert type(final[name]) is kind, name
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["eval_count"] == len(pieces)
    assert final["prompt_eval_count"] == scripted_answer(PROMPT, 4096, source="emulator").input_tokens
    assert sum(1 for line in lines if line["done"]) == 1


async def test_non_stream_is_one_object(http):
    response = await http.post("/api/chat", json={"model": "llama3.2:latest", "messages": PROMPT,
                                                  "stream": False})
    body = response.json()
    assert body["done"] is True
    assert body["message"]["content"] == scripted_answer(PROMPT, 4096, source="emulator").text


async def test_num_predict_gives_done_reason_length(http):
    lines = await _lines(http, {"model": "phi3", "messages": PROMPT,
                                "options": {"num_predict": 4, "temperature": 0}})
    assert lines[-1]["done_reason"] == "length" and lines[-1]["eval_count"] == 4


async def test_tags_and_version(http):
    tags = (await http.get("/api/tags")).json()["models"]
    assert "llama3.2:latest" in [t["name"] for t in tags]
    assert isinstance((await http.get("/api/version")).json()["version"], str)


async def test_listing_routes_do_not_consume_faults(emu, http):
    emu.inject("server_error")
    assert (await http.get("/api/tags")).status_code == 200
    assert (await http.post("/api/chat", json={"model": "llama3.2", "messages": PROMPT})).status_code == 500


async def test_unknown_model_is_404(http):
    response = await http.post("/api/chat", json={"model": "mistral", "messages": PROMPT})
    assert response.status_code == 404
    assert response.json() == {"error": 'model "mistral" not found, try pulling it first'}


@pytest.mark.parametrize("fault, options, status", [
    ("rate_limit", {}, 429), ("server_error", {"status": 503}, 503), ("auth", {}, 401),
    ("model_not_found", {}, 404),
])
async def test_faults_answer_in_ollama_shape(emu, http, fault, options, status):
    emu.inject(fault, **options)
    response = await http.post("/api/chat", json={"model": "llama3.2", "messages": PROMPT})
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    if fault == "rate_limit":
        assert response.headers["retry-after"] == "1"


async def test_cut_stream_has_no_done_line(emu, http):
    emu.inject("cut_stream", after_chunks=3)
    lines = await _lines(http, {"model": "llama3.2", "messages": PROMPT})
    assert len(lines) == 3 and not any(line["done"] for line in lines)


async def test_cut_stream_abort_breaks_the_body(emu, http):
    emu.inject("cut_stream", mode="abort")
    with pytest.raises(httpx.RemoteProtocolError):
        await _lines(http, {"model": "llama3.2", "messages": PROMPT})


async def test_in_stream_error_line(emu, http):
    emu.inject("server_error", in_stream=True)
    lines = await _lines(http, {"model": "llama3.2", "messages": PROMPT})
    assert lines == [{"error": "llama runner process has terminated: exit status 2"}]


async def test_malformed_line(emu, http):
    emu.inject("malformed")
    with pytest.raises(json.JSONDecodeError):
        await _lines(http, {"model": "llama3.2", "messages": PROMPT})
