"""The fine-tuning data: the chat format OpenAI and Azure OpenAI take, its checks, and copies.

One ``{"messages": [...]}`` per line: an optional system message (the same in every line),
the user turn the ticket's text, the assistant turn the team. ``read_examples`` checks a file
and raises ``DataError`` with one line that says what is wrong and where -- before anything
slow starts. ``too_close`` keeps the training data away from the tickets the course
evaluates on (notebook 08's 20, ``support_tickets.jsonl``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

TEAMS = ("billing", "technical", "account", "shipping")
TRAIN_FILE = "finetune_tickets.jsonl"
VALID_FILE = "finetune_tickets_valid.jsonl"
# Amazon Bedrock's fine-tuning records for Nova models (Converse shape):
# docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html, verified 2026-12-01.
BEDROCK_SCHEMA = "bedrock-conversation-2024"


class DataError(ValueError):
    """A fine-tuning file that cannot be used; the message is one line naming file and line."""


@dataclass(frozen=True)
class Example:
    system: str | None
    user: str
    assistant: str

    def messages(self) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}] if self.system else []
        return turns + [{"role": "user", "content": self.user}]


def data_path(name: str) -> Path:
    return Path(str(resources.files("workbook").joinpath("data", name)))


def chat_record(ticket: str, team: str, system: str | None = None) -> dict:
    turns = [{"role": "system", "content": system}] if system else []
    return {"messages": turns + [{"role": "user", "content": ticket},
                                 {"role": "assistant", "content": team}]}


def bedrock_record(ticket: str, team: str, system: str | None = None) -> dict:
    record: dict = {"schemaVersion": BEDROCK_SCHEMA}
    if system:
        record["system"] = [{"text": system}]
    record["messages"] = [{"role": "user", "content": [{"text": ticket}]},
                          {"role": "assistant", "content": [{"text": team}]}]
    return record


def read_examples(path: str | Path) -> list[Example]:
    """The examples in a chat-format JSONL file, or ``DataError`` at its first problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    examples: list[Example] = []
    systems: set[str | None] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not JSON ({error.msg})") from None
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list) or not messages:
            raise DataError(f"{where}: not the chat format -- each line must be "
                            '{"messages": [{"role": ..., "content": ...}, ...]}')
        if not all(isinstance(m, dict) and isinstance(m.get("content"), str)
                   and m.get("role") in ("system", "user", "assistant") for m in messages):
            raise DataError(f"{where}: each message needs a role (system, user or assistant) "
                            "and a text content")
        roles = [m["role"] for m in messages]
        system = messages[0]["content"] if roles[0] == "system" else None
        rest = messages[1:] if system is not None else messages
        if [m["role"] for m in rest] != ["user", "assistant"]:
            missing = "no assistant turn" if "assistant" not in roles else f"turns {roles}"
            raise DataError(f"{where}: {missing}; expected an optional system message, then one "
                            "user turn (the ticket) and one assistant turn (the answer)")
        if not rest[0]["content"].strip() or not rest[1]["content"].strip():
            raise DataError(f"{where}: an empty user or assistant turn")
        systems.add(system)
        examples.append(Example(system, rest[0]["content"], rest[1]["content"].strip()))
    if not examples:
        raise DataError(f"{path}: empty -- no examples to train on")
    if len(systems) > 1:
        raise DataError(f"{path}: the system message differs between lines; use one (or none) "
                        "for every example, as you will at inference")
    return examples


# -- keeping away from the course's evaluation tickets ------------------------------------
_STOPWORDS = frozenset("""a an the and or but if of to in on at for from by with about as is are was were be
been being am do does did done have has had i me my mine we our us you your it its this that these those
there here what which who whom how why when where can could would should will shall may might must not no
nor so too very just than then them they their he she his her him please thanks thank hi hello dear get
got one any some all still also yet into out up down over again after before since now""".split())


def content_words(text: str) -> frozenset[str]:
    """The words that carry meaning, lower-cased, a plural ``s`` dropped."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") else w
                     for w in words if w not in _STOPWORDS and len(w) > 1)


def eval_tickets() -> list[dict]:
    text = data_path("support_tickets.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# Share of content words two tickets may have in common (Jaccard) before one counts as a
# repeat or paraphrase of the other; the 20 course tickets among themselves stay below 0.2.
MAX_OVERLAP = 0.3


def overlap(a: str, b: str) -> float:
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


def too_close(ticket: str, threshold: float = MAX_OVERLAP) -> str | None:
    """The course ticket ``ticket`` is too close to (by word overlap), or ``None``."""
    for course in eval_tickets():
        if overlap(ticket, course["text"]) > threshold:
            return course["text"]
    return None
