"""The widgets' state objects, driven directly: no browser, no Output capture."""

from __future__ import annotations

import asyncio

import ipywidgets as w
import pytest

from workbook.ai import AISettings, ChatResponse, create_ai_provider, register_provider, unregister_provider
from workbook.ai.errors import ProviderUnavailableError
from workbook.emulator import Emulator
from workbook.timing import decode_rate
from workbook.widgets import ChatPanel, ProviderPicker, Race
from workbook.widgets._common import static_bundle
from workbook.widgets.picker import PickerStatus


def mock(ttft=0.05, rate=200.0):
    return create_ai_provider(provider="mock", mock_ttft_s=ttft, mock_tokens_per_s=rate)


class Failing:
    """A provider whose server is down."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        raise ProviderUnavailableError("cannot reach http://127.0.0.1:9", provider="failing",
                                       hint="Start the server.")

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        raise ProviderUnavailableError("cannot reach http://127.0.0.1:9", provider="failing",
                                       hint="Start the server.")
        yield ""


class Buggy:
    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        raise NotImplementedError

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        raise KeyError("message")
        yield ""


# -- picker ----------------------------------------------------------------------------------
def test_picker_lists_every_provider_with_what_is_missing():
    picker = ProviderPicker(AISettings(provider="mock"))
    assert picker.status.state == "ready" and picker.status.selected == "mock"
    assert type(picker.provider).__name__ == "MockProvider"
    labels = dict((v, k) for k, v in picker.dropdown.options)
    assert "missing AI__AZURE_OPENAI_ENDPOINT" in labels["azure_openai"]
    assert "configured ✓" in labels["mock"]
    assert picker.wait_for_probes(5)
    labels = dict((v, k) for k, v in picker.dropdown.options)
    assert "not reachable ✗" in labels["lmstudio"] or "reachable ✓" in labels["lmstudio"]
    assert "probing" not in " ".join(labels.values())


def test_picker_probe_sees_the_emulator():
    with Emulator() as emu:
        picker = ProviderPicker(emu.settings("ollama"))
        assert picker.wait_for_probes(5)
        assert picker.options["ollama"].reachable is True
        assert "reachable ✓" in picker.options["ollama"].label
        assert picker.status.state == "ready"


def test_picker_construction_does_not_wait_for_probes(monkeypatch):
    # As events: the picker is built and usable while every probe is still in flight (held
    # here until the test lets them answer); the labels change once they have.
    import threading

    import workbook.probe

    answer = threading.Event()
    monkeypatch.setattr(workbook.probe, "probe", lambda url, timeout_s=0.5: answer.wait(30) and False)
    picker = ProviderPicker(AISettings(provider="mock"))
    assert picker.status.state == "ready" and not picker.wait_for_probes(0)
    assert "probing…" in " ".join(label for label, _ in picker.dropdown.options)
    answer.set()
    assert picker.wait_for_probes(30)
    assert "probing…" not in " ".join(label for label, _ in picker.dropdown.options)


def test_choosing_an_unconfigured_provider_shows_message_and_hint():
    picker = ProviderPicker(AISettings(provider="mock"), probe=False)
    assert picker.select("azure_openai") is None
    status = picker.status
    assert status.state == "error" and status.selected == "azure_openai"
    assert "AI__AZURE_OPENAI_API_KEY" in status.message and status.hint
    assert "Hint:" in picker.message.value and "Traceback" not in picker.message.value
    picker.dropdown.value = "mock"  # as a click would
    assert picker.status.state == "ready" and picker.provider is not None


def test_a_registered_provider_appears_and_can_be_chosen():
    class Echo:
        async def chat(self, messages, *, max_tokens=512, temperature=0.7):
            return ChatResponse(messages[-1].content, "echo", "echo", latency_s=0.001)

        async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
            for word in messages[-1].content.split():
                yield word + " "

    register_provider("echo_widget", Echo)
    try:
        picker = ProviderPicker(AISettings(provider="mock"), probe=False)
        assert "echo_widget" in [v for _, v in picker.dropdown.options]
        assert isinstance(picker.select("echo_widget"), Echo)
    finally:
        unregister_provider("echo_widget")


class Recorded:
    """A provider that records being closed; its close awaits, as an HTTP client's does."""

    closed: list[str] = []

    def __init__(self, settings):
        self.name = settings.provider

    async def chat(self, messages, *, max_tokens=512, temperature=0.7): ...

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        yield "hi"

    async def aclose(self):
        await asyncio.sleep(0)
        Recorded.closed.append(self.name)


@pytest.fixture
def recorded():
    Recorded.closed = []
    for name in ("ollama", "openai"):
        register_provider(name, Recorded)
    yield Recorded.closed
    for name in ("ollama", "openai"):
        unregister_provider(name)


def test_switching_closes_the_real_providers_clients():
    # No emulator: building is enough to open an httpx / openai client.
    picker = ProviderPicker(AISettings(provider="mock", openai_api_key="sk-test"), probe=False)
    ollama = picker.select("ollama")
    assert type(ollama).__name__ == "OllamaProvider" and not ollama._client.is_closed
    openai = picker.select("openai")
    assert type(openai).__name__ == "OpenAIProvider"
    assert ollama._client.is_closed and not openai._client.is_closed()
    picker.select("azure_openai")  # an error leaves no provider: the last one is closed too
    assert picker.provider is None and openai._client.is_closed()


async def test_switching_inside_a_running_loop_schedules_the_close(recorded):
    picker = ProviderPicker(AISettings(provider="mock"), probe=False)
    picker.select("ollama")
    picker.select("openai")
    picker.select("mock")
    assert recorded == []  # scheduled, not awaited: the kernel is not blocked
    await asyncio.gather(*picker._closing)
    assert recorded == ["ollama", "openai"]


def test_a_provider_the_caller_assigned_is_not_closed(recorded):
    picker = ProviderPicker(AISettings(provider="ollama"), probe=False)
    built = picker.provider
    mine = Recorded(AISettings(provider="mock"))  # recorded as "mock" if it were closed
    picker.provider = mine
    picker.select("openai")
    assert recorded == ["ollama"]  # the picker's own, not the caller's
    assert isinstance(built, Recorded) and picker.provider is not mine


def test_invalid_environment_is_an_error_status(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AI__PROVIDER", "nonsense")
    picker = ProviderPicker(probe=False)
    assert picker.status.state == "error" and "AI__PROVIDER" in picker.status.message


# -- chat panel ------------------------------------------------------------------------------
async def test_chat_panel_streams_and_times_the_reply():
    panel = ChatPanel(mock(ttft=0.1, rate=400), max_tokens=32)
    state = await panel.send("Hello there")
    assert state.done and state.error is None
    assert state.text.startswith('Scripted reply from the mock to "Hello there"')
    assert state.pieces > 2 and 0.09 < state.ttft_s < state.latency_s  # the mock is never early
    assert state.tokens == 32 or state.tokens == len(state.text.split())
    assert state.tokens_estimated is False  # the mock reports usage
    # How close the rate comes to the mock's 400/s is benchmarks/timing_accuracy.py's to measure.
    assert state.tokens_per_s == decode_rate(state.tokens, state.ttft_s, state.latency_s) > 0
    assert "Hello there" in panel.reply.value and "tokens (reported)" in panel.stats.value
    assert "answered by mock / " in panel.stats.value, "the panel says which provider answered"
    assert "scripted by the mock provider" in panel.stats.value, "and that its answer is canned text"
    assert "measures no model" in panel.stats.value, "and, beside its timing, that the pace is a setting"


async def test_chat_panel_estimates_tokens_when_usage_is_not_reported():
    class Plain:
        async def chat(self, messages, *, max_tokens=512, temperature=0.7): ...

        async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
            for word in ["one", " two", " three"]:
                await asyncio.sleep(0.01)
                yield word

    state = await ChatPanel(Plain()).send("count")
    # 13 characters at ~4 per token: the estimate workbook.compare makes for the same reply
    assert state.text == "one two three" and state.tokens == 4 and state.tokens_estimated
    assert "estimated" in state.stats() and "overshoots" not in state.stats()
    # No finish reason came: the panel says a cut would not show, rather than let it pass as whole.
    assert state.finish_reason is None and "no finish reason reported" in state.stats()
    # An estimate above what the request allowed says so, instead of contradicting it silently.
    state = await ChatPanel(Plain(), max_tokens=2).send("count")
    assert state.tokens == 4 and "above max_tokens=2, so the estimate overshoots" in state.stats()


async def test_chat_panel_marks_an_answer_max_tokens_cut_as_the_notebooks_do():
    from workbook.course.backends import cut_note

    panel = ChatPanel(mock(ttft=0.0, rate=2000), max_tokens=3)
    state = await panel.send("Tell me a long story")
    assert state.finish_reason == "length", "the mock stops at max_tokens and says so"
    assert cut_note("length").strip() in panel.reply.value, "the reply carries the course's one cut note"
    assert "finish reason" not in state.stats(), "the stream reported its finish reason"


async def test_chat_panel_uses_the_pickers_current_provider():
    picker = ProviderPicker(AISettings(provider="mock", mock_ttft_s=0.0), probe=False)
    panel = ChatPanel(picker, max_tokens=8)
    assert (await panel.send("hi")).error is None
    picker.select("azure_openai")
    state = await panel.send("hi")
    assert state.error == "no provider chosen" and "AI__AZURE_OPENAI" in state.hint


async def test_chat_panel_shows_typed_errors_as_message_and_hint():
    panel = ChatPanel(Failing())
    state = await panel.send("anyone?")
    assert state.done and state.error.startswith("ProviderUnavailableError")
    assert state.hint == "Start the server."
    assert "Hint: Start the server." in panel.reply.value
    assert not panel.button.disabled


async def test_chat_panel_reports_a_students_bug_without_raising():
    state = await ChatPanel(Buggy()).send("x")
    assert state.error.startswith("KeyError") and state.hint


async def test_send_button_does_not_block_the_loop():
    # As events: the click returns with the reply still on its way (a click that waited
    # for the answer would return with it done).
    panel = ChatPanel(mock(ttft=0.2), max_tokens=8)
    panel.button.click()  # what a browser click does
    assert panel.task is not None and not panel.task.done()
    assert not panel.state.done
    await panel.task
    assert panel.state.done and panel.state.text


# -- race ------------------------------------------------------------------------------------
async def test_race_streams_columns_concurrently():
    race = Race({"fast": mock(ttft=0.05, rate=400), "slow": mock(ttft=0.3, rate=100)}, max_tokens=20)
    results = await race.run("Which is faster?")
    assert set(results) == {"fast", "slow"}
    fast, slow = results["fast"], results["slow"]
    assert fast.error is None and slow.error is None
    # The fast column's first token is due 0.25 s before the slow one's: it came first.
    assert fast.first_chunk_at < slow.first_chunk_at
    # concurrent, by the order of events: every column started before any finished
    assert race.state.overlapped()
    assert len(race.columns.children) == 2
    assert "tokens/s" in race._stats["slow"].value
    assert "scripted by the mock provider" in race._stats["slow"].value, "each column says what its answer is"
    assert "measures no model" in race._stats["slow"].value, "and that its tokens/s times canned text"
    frame = race.state.summary()
    assert list(frame.index) == ["fast", "slow"]


async def test_race_with_a_failing_provider_keeps_the_others():
    race = Race({"ok": mock(ttft=0.0), "down": Failing()}, max_tokens=10)
    results = await race.run("go")
    assert results["ok"].error is None and results["ok"].text
    assert results["down"].error.startswith("ProviderUnavailableError")
    assert "Hint:" in race._stats["down"].value


async def test_race_over_the_emulator():
    with Emulator(ttft_s=0.05) as emu:
        from workbook.course.backends import settings_for  # noqa: F401 - same path notebooks use

        race = Race({"ollama": create_ai_provider(emu.settings("ollama")),
                     "openai": create_ai_provider(emu.settings("openai"))}, max_tokens=16)
        results = await race.run("Hello")
        assert all(c.error is None and c.tokens == 16 and not c.tokens_estimated
                   for c in results.values()), results
        assert race.state.overlapped()


def test_race_needs_providers():
    with pytest.raises(ValueError, match="at least one provider"):
        Race({})


def test_a_status_prints_as_a_sentence_with_its_hint():
    ready = PickerStatus(selected="mock", state="ready", message="MockProvider is ready")
    broken = PickerStatus(selected="azure_openai", state="error", message="needs AI__AZURE_OPENAI_API_KEY",
                          hint="Set it in .env")
    assert str(ready) == "✓ mock: MockProvider is ready"
    assert str(broken) == "✗ azure_openai: needs AI__AZURE_OPENAI_API_KEY\n  Hint: Set it in .env"


def test_a_widgets_saved_text_is_its_snapshot_not_its_repr():
    tree = w.VBox([w.HTML("<b>Score</b> 3 &lt; 4"), w.HBox([w.Button(description="Send"),
                   w.Dropdown(options=["mock", "local"], value="local", description="Provider")]),
                   w.Textarea(value="a <prompt>")])
    text = static_bundle(tree)["text/plain"]
    assert "VBox(" not in text, "the saved text is no longer the widget's repr"
    assert text.splitlines()[:3] == ["Score 3 < 4", "[Send]  ·  Provider: local (2 choices)", "[a <prompt>]"]
    sliders = static_bundle(w.VBox([w.FloatLogSlider(value=5e6, base=10, min=4, max=10, description="tokens/day"),
                                    w.FloatSlider(value=2.0, description="$/1M in")]))["text/plain"]
    assert sliders.splitlines()[:2] == ["tokens/day 5,000,000", "$/1M in 2"], "a float shows as a reader writes it"
