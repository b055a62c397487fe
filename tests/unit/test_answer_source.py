"""Every answer a notebook shows is captioned with where it came from (workbook.course.backends)."""

from types import SimpleNamespace

from workbook.ai import create_ai_provider
from workbook.course.backends import (EMULATED, SCRIPTED, SCRIPTED_PACE, SMOLLM2, answer_source, pace_note,
                                      provider_caption)
from workbook.emulator import Emulator


def test_the_mock_is_scripted_under_any_backend():
    mock = create_ai_provider(provider="mock")
    assert answer_source("mock") == SCRIPTED
    assert answer_source("live", mock) == SCRIPTED


def test_the_local_model_is_named_and_a_live_run_without_an_account_says_it_stood_in():
    local = SimpleNamespace(name="local", model="smollm2")
    assert answer_source("local", local) == SMOLLM2
    stood_in = answer_source("live", local)
    assert stood_in.startswith(SMOLLM2) and "stood in" in stood_in


def test_the_emulator_and_a_real_service_are_told_apart():
    assert answer_source("emulator", SimpleNamespace(name="openai", model="gpt-x")) == EMULATED
    real = answer_source("live", SimpleNamespace(name="openai", model="gpt-x"))
    assert "openai / gpt-x" in real and "real service" in real


async def test_a_provider_pointed_at_an_emulator_of_this_process_says_its_answers_are_canned():
    with Emulator() as emu:
        ollama = create_ai_provider(emu.settings("ollama"))
        try:
            # What a widget shows beside its answer, and what a live run that fell back to the emulator says.
            assert provider_caption(ollama) == EMULATED
            assert answer_source("live", ollama) == EMULATED
        finally:
            await ollama.aclose()
    assert provider_caption(ollama) is None, "a stopped emulator's address is any server's"


def test_a_wrapper_is_captioned_by_the_provider_it_wraps():
    # Notebook 04's ShoutingProvider: its own name says nothing; its words are the inner provider's.
    wrapper = SimpleNamespace(name="shouting", model="shouting(mock)", inner=create_ai_provider(provider="mock"))
    assert provider_caption(wrapper) == SCRIPTED
    assert provider_caption(SimpleNamespace(name="shouting", inner=SimpleNamespace(name="local"))) == SMOLLM2


def test_a_scripted_reply_s_timing_says_it_measures_no_model():
    """Beside a tokens/s of canned text (widgets, notebook 04), never beside a model's."""
    mock = create_ai_provider(provider="mock")
    assert pace_note(mock) == SCRIPTED_PACE and "measures no model" in SCRIPTED_PACE
    assert pace_note(SimpleNamespace(name="shouting", inner=mock)) == SCRIPTED_PACE   # a wrapper of it too
    assert pace_note(SimpleNamespace(name="local", model="smollm2")) == ""
    assert pace_note(SimpleNamespace(name="openai", model="gpt-x")) == ""
