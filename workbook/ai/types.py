"""Plain data and the provider protocol: the whole contract a provider has to meet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Literal, Protocol, runtime_checkable

from .errors import InvalidRequestError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    @classmethod
    def system(cls, content: str) -> "Message":
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> "Message":
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str) -> "Message":
        return cls("assistant", content)


@dataclass(frozen=True)
class Usage:
    """Token counts as the backend reported them; ``None`` where it reported none."""

    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens

    def __str__(self) -> str:
        """What a notebook prints: "38 in, 40 out" (tokens), "not reported" for a missing count."""
        def count(n: int | None) -> str:
            return "not reported" if n is None else str(n)
        return f"{count(self.input_tokens)} in, {count(self.output_tokens)} out"


@dataclass(frozen=True)
class ChatResponse:
    content: str
    model: str
    provider: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    latency_s: float = 0.0
    # With ``chat(..., response_format=X)``: the answer validated against X -- an instance of
    # the pydantic model X, or a dict for a JSON-schema dict. ``None`` when no format was asked.
    parsed: Any = None


@runtime_checkable
class AIProvider(Protocol):
    """What every provider -- built-in or a student's -- implements.

    ``chat_stream`` yields pieces of the answer as they arrive. A class with just these
    two methods works everywhere in the workbook.
    """

    async def chat(
        self, messages: list[Message], *, max_tokens: int = 512, temperature: float = 0.7
    ) -> ChatResponse: ...

    def chat_stream(
        self, messages: list[Message], *, max_tokens: int = 512, temperature: float = 0.7
    ) -> AsyncIterator[str]: ...


class ChatStream(AsyncIterator[str]):
    """The async iterator the built-in providers return from ``chat_stream``.

    Iterate it for text pieces; once it is exhausted, ``usage``, ``finish_reason`` and
    ``model`` hold what the backend reported at the end of the stream. The producer is
    an async generator function that receives this object to fill in.
    """

    def __init__(self, produce: Callable[["ChatStream"], AsyncIterator[str]], *, provider: str):
        self.provider = provider
        self.usage: Usage = Usage()
        self.finish_reason: str | None = None
        self.model: str | None = None
        self._pieces = produce(self)

    def __aiter__(self) -> "ChatStream":
        return self

    async def __anext__(self) -> str:
        return await self._pieces.__anext__()

    async def aclose(self) -> None:
        await self._pieces.aclose()


def coerce_messages(messages) -> list[Message]:
    """Accept ``Message`` objects or ``{"role", "content"}`` dicts, and check them.

    Raises ``InvalidRequestError`` naming the offending field, before any network call.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, (list, tuple)):
        raise InvalidRequestError(
            f"messages must be a list of Message, got {type(messages).__name__}",
            hint='Pass [Message("user", "your question")].',
        )
    if not messages:
        raise InvalidRequestError(
            "messages is empty: a chat needs at least one message",
            hint='Pass [Message("user", "your question")].',
        )
    checked: list[Message] = []
    for index, message in enumerate(messages):
        if isinstance(message, dict):
            role, content = message.get("role"), message.get("content")
        else:
            role, content = getattr(message, "role", None), getattr(message, "content", None)
        if role not in ROLES:
            raise InvalidRequestError(
                f"messages[{index}].role is {role!r}; it must be one of {', '.join(ROLES)}",
                hint="Use role 'system', 'user' or 'assistant'.",
            )
        if not isinstance(content, str):
            raise InvalidRequestError(
                f"messages[{index}].content must be a str, got {type(content).__name__}",
                hint="Convert the content to text before sending it.",
            )
        try:
            content.encode("utf-8")
        except UnicodeEncodeError as error:
            # A lone surrogate (half of an emoji, from a bad copy or a bytes slice) cannot
            # travel in any request body: say so here, not as a server or encoding failure.
            raise InvalidRequestError(
                f"messages[{index}].content has a character that cannot be encoded as UTF-8 "
                f"at position {error.start} (a lone surrogate such as {content[error.start]!a})",
                hint="Remove or replace that character; text from bytes should be decoded with "
                     "errors='replace' first.",
            ) from None
        checked.append(message if isinstance(message, Message) else Message(role, content))
    return checked


# No model writes this many tokens in one answer; a larger max_tokens is a slip (10**400),
# and would also make every bound computed from it meaningless.
MAX_TOKENS_LIMIT = 1_000_000


def _shown_number(value) -> str:
    """``value`` for an error message: a huge integer by its size (repr of 10**5000 raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def check_limits(max_tokens, temperature) -> None:
    if (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
            or not 0 < max_tokens <= MAX_TOKENS_LIMIT):
        raise InvalidRequestError(
            f"max_tokens must be a whole number from 1 to {MAX_TOKENS_LIMIT:,}, "
            f"got {_shown_number(max_tokens)}",
            hint="Pass max_tokens=1 or more (a few hundred is typical).",
        )
    # Compared as given, not through float(): float(10**400) is an OverflowError.
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
        0 <= temperature <= 2
    ):
        raise InvalidRequestError(
            f"temperature must be between 0 and 2, got {_shown_number(temperature)}",
            hint="Use 0 for repeatable answers, around 0.7 for varied ones.",
        )


def validate_request(messages, max_tokens, temperature, defaults=None) -> tuple[list[Message], int, float]:
    """Check a request the way every built-in provider does, before any I/O.

    A limit left as ``None`` takes the settings' value (``AI__MAX_TOKENS``,
    ``AI__TEMPERATURE``) from ``defaults``. Returns the messages and both limits.
    """
    if max_tokens is None:
        max_tokens = defaults.max_tokens if defaults is not None else 512
    if temperature is None:
        temperature = defaults.temperature if defaults is not None else 0.7
    checked = coerce_messages(messages)
    check_limits(max_tokens, temperature)
    return checked, max_tokens, temperature


def split_system(messages: list[Message]) -> tuple[str | None, list[Message]]:
    """System prompts joined into one string, and the conversation without them."""
    system = [m.content for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    return ("\n\n".join(system) if system else None), rest

