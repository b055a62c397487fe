"""The bundled SmolLM2 under llama.cpp's schema grammar, for real: every constrained answer on
notebook 06a's labelled set validates, in-process and through the emulator's local backend."""

from __future__ import annotations

import json

import openai
import pytest

from workbook.ai import AISettings, InvalidRequestError, Message, create_ai_provider
from workbook.ai.structured import output_schema
from workbook.course import extraction
from workbook.course.extraction import TicketFields
from workbook.emulator import Emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local():
    return create_ai_provider(AISettings(provider="local"))


async def test_every_constrained_answer_on_the_notebooks_set_validates(local):
    tickets = extraction.load_tickets()
    rows = await extraction.run(local, tickets, enforce=True)
    assert [row.ticket_id for row in rows if not row.valid] == []
    assert all(TicketFields.model_validate_json(row.content) for row in rows)


async def test_the_grammar_also_constrains_a_stream(local):
    stream = local.chat_stream([Message.user("Route: my parcel is late.")], max_tokens=60, temperature=0,
                               response_format=TicketFields)
    pieces = [piece async for piece in stream]
    assert len(pieces) > 3 and stream.finish_reason == "stop"
    TicketFields.model_validate_json("".join(pieces))


async def test_without_a_schema_the_answer_is_not_forced_into_json(local):
    reply = await local.chat(extraction.messages_for(extraction.load_tickets()[0]), max_tokens=60, temperature=0)
    assert reply.parsed is None


async def test_a_schema_the_grammar_converter_cannot_express_fails_before_generating(local):
    with pytest.raises(InvalidRequestError) as caught:
        await local.chat([Message.user("x")], response_format={
            "type": "object", "properties": {"a": {"$ref": "https://example.com/elsewhere.json"}}})
    assert caught.value.provider == "local"


def test_the_emulators_local_backend_answers_through_the_grammar():
    schema = output_schema(TicketFields).schema
    with Emulator(backend="local") as emu:
        client = openai.OpenAI(base_url=f"{emu.url}/v1", api_key="k", max_retries=0)
        completion = client.chat.completions.create(
            model="smollm2", max_tokens=60, temperature=0,
            messages=[{"role": "system", "content": extraction.INSTRUCTIONS},
                      {"role": "user", "content": "The app crashes on start."}],
            response_format={"type": "json_schema", "json_schema": {
                "name": "TicketFields", "schema": schema, "strict": True}})
    TicketFields.model_validate(json.loads(completion.choices[0].message.content))
