"""Notebook 06a's experiment: fields extracted from support tickets, prompt-only vs schema-enforced.

``workbook/data/ticket_extraction.jsonl`` holds 16 labelled tickets (team, priority, order
number or null). Both ways send the same instructions; the enforced one also passes
``response_format=TicketFields``, so the difference measured is the enforcement alone.
A test runs the same function, so the notebook and the test measure one thing.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ..ai import Message
from ..ai.errors import StructuredOutputError
from ..ai.structured import output_schema
from .evaluation import load_jsonl

TEAMS = ("billing", "technical", "account", "shipping")
PRIORITIES = ("low", "normal", "urgent")
FIELDS = ("team", "priority", "order_id")


class TicketFields(BaseModel):
    """What the support desk needs from a ticket to route it."""

    team: Literal["billing", "technical", "account", "shipping"]
    priority: Literal["low", "normal", "urgent"]
    # Required but nullable: strict mode wants every field required; null says "none given".
    order_id: str | None = Field(pattern=r"^[0-9]{5}$", description="the ticket's 5-digit order number, or null")


INSTRUCTIONS = (
    "Route the support ticket. Reply with JSON only, exactly these keys: "
    '"team" (one of billing, technical, account, shipping), '
    '"priority" (one of low, normal, urgent) and '
    '"order_id" (the 5-digit order number in the ticket, or null if there is none).'
)


def load_tickets() -> list[dict]:
    return load_jsonl("ticket_extraction.jsonl")


def messages_for(ticket: dict) -> list[Message]:
    return [Message.system(INSTRUCTIONS), Message.user(ticket["text"])]


@dataclass(frozen=True)
class Extraction:
    """One ticket's answer: whether it was valid JSON of the schema, and which fields were right."""

    ticket_id: str
    valid: bool
    fields: dict  # field -> the value answered (only when valid)
    correct: dict  # field -> bool (False when invalid)
    output_tokens: int | None
    seconds: float
    content: str
    # "length" when max_tokens cut it: its token count is then the cap, not the answer's length.
    finish_reason: str | None = None


async def extract(provider, ticket: dict, *, enforce: bool, max_tokens: int = 40) -> Extraction:
    """Ask for one ticket's fields; ``enforce`` passes the schema as ``response_format``."""
    started = time.perf_counter()
    if enforce:
        try:
            response = await provider.chat(messages_for(ticket), max_tokens=max_tokens, temperature=0.0,
                                           response_format=TicketFields)
        except StructuredOutputError as error:  # e.g. cut at max_tokens: its tokens are not reported
            return Extraction(ticket["id"], False, {}, {f: False for f in FIELDS}, None,
                              time.perf_counter() - started, error.raw or "")   # finish reason not reported
        parsed = response.parsed
    else:
        response = await provider.chat(messages_for(ticket), max_tokens=max_tokens, temperature=0.0)
        try:  # the whole answer must be the JSON, as a program reading it needs
            parsed = output_schema(TicketFields).parse(response.content.strip())
        except StructuredOutputError:
            parsed = None
    seconds = time.perf_counter() - started
    tokens = response.usage.output_tokens
    if parsed is None:
        return Extraction(ticket["id"], False, {}, {f: False for f in FIELDS}, tokens, seconds, response.content,
                          response.finish_reason)
    answered = parsed.model_dump()
    return Extraction(ticket["id"], True, answered, {f: answered[f] == ticket[f] for f in FIELDS},
                      tokens, seconds, response.content, response.finish_reason)


async def run(provider, tickets: list[dict], *, enforce: bool, max_tokens: int = 40) -> list[Extraction]:
    return [await extract(provider, ticket, enforce=enforce, max_tokens=max_tokens) for ticket in tickets]


def summary(rows: list[Extraction]) -> dict:
    """Rates over the set: valid JSON, each field right, all right; tokens (and how many answers
    max_tokens cut, whose counts are the cap) and time."""
    count = len(rows)
    tokens = [r.output_tokens for r in rows if r.output_tokens is not None]
    teams = Counter(r.fields["team"] for r in rows if r.valid)
    return {
        "answers": count,
        "valid_rate": sum(r.valid for r in rows) / count,
        **{f"{field}_accuracy": sum(r.correct[field] for r in rows) / count for field in FIELDS},
        "all_fields_rate": sum(all(r.correct.values()) for r in rows) / count,
        "output_tokens_mean": sum(tokens) / len(tokens) if tokens else None,
        "cut": sum(r.finish_reason == "length" for r in rows),
        "seconds_total": sum(r.seconds for r in rows),
        "most_common_team": teams.most_common(1)[0] if teams else None,
    }
