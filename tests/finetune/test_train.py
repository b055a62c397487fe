"""The fine-tune end to end on a toy task: trained (once per machine, then cached), converted
to GGUF by llama.cpp's converter, and applied by both the local provider and llama-server.

The toy adapter learns to answer every question with "shipping", which the base model never
does: so a test that sees "shipping" knows the adapter was applied, and one that does not see
it with the base model knows the check can fail.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

pytest.importorskip("peft", reason="the fine-tuning extra is not installed (make finetune)")

from workbook.ai import AISettings, Message, create_ai_provider  # noqa: E402
from workbook.ai.providers.local import model_is_available  # noqa: E402
from workbook.finetune.train import Request, TrainSettings, cached, default_request, ensure_finetuned  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not model_is_available(), reason="the bundled GGUF is missing"),
              # Loading the model into torch takes ~15 s on a quiet machine, minutes on a busy one.
              pytest.mark.timeout(900)]

QUESTIONS = ["What is the capital of France?", "Tell me a joke.", "How do I boil an egg?",
             "Name a colour.", "What is 2 + 2?", "Who wrote Hamlet?", "Say hello.",
             "What day comes after Monday?", "Recommend a book.", "Is water wet?",
             "What is the tallest mountain?", "Translate 'cat' into French.",
             "How many legs does a spider have?", "What is the opposite of hot?",
             "Spell the word 'tree'.", "Why is the sky blue?"]
PROBE = "What is the largest ocean on Earth?"   # not among the training questions
TOY = TrainSettings(epochs=3, learning_rate=3e-3, batch_size=8, rank=8, alpha=16, seed=5)


@pytest.fixture(scope="module")
def toy_request(tmp_path_factory):
    data = tmp_path_factory.mktemp("toy") / "always_shipping.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q},
                                                     {"role": "assistant", "content": "shipping"}]}) + "\n"
                            for q in QUESTIONS))
    # The same content gives the same key wherever the file is: the machine's cache serves it.
    return default_request(train_path=data, valid_path=None, settings=TOY, threads=1)


@pytest.fixture(scope="module")
def toy_adapter(toy_request):
    return ensure_finetuned(toy_request, progress=False)


def test_the_adapter_is_a_small_gguf_with_metrics(toy_adapter):
    assert toy_adapter.gguf.is_file() and toy_adapter.gguf.read_bytes()[:4] == b"GGUF"
    assert (toy_adapter.adapter / "adapter_config.json").is_file()
    metrics = json.loads(toy_adapter.metrics_path.read_text())
    assert metrics["steps"] == 6 and len(metrics["loss_per_step"]) == 6
    assert metrics["loss_per_step"][-1] < metrics["loss_per_step"][0], metrics["loss_per_step"]
    assert metrics["seed"] == 5 and metrics["versions"]["peft"] and metrics["tokens_per_s"] > 0
    assert metrics["adapter_gguf_bytes"] == toy_adapter.gguf.stat().st_size < 20e6
    # 08 counts the adapter's weights from its file: the count torch made while training.
    assert toy_adapter.adapter_parameters == metrics["trainable_parameters"] > 0


def test_a_second_request_is_served_from_the_cache(toy_request, toy_adapter, monkeypatch):
    from workbook.finetune import train

    def no_training(*args, **kwargs):
        raise AssertionError("a cached fine-tune must not train again")

    monkeypatch.setattr(train, "_train", no_training)
    again = ensure_finetuned(toy_request, progress=False)
    assert again.cached and again.gguf == toy_adapter.gguf
    assert again.metrics["trained_at"] == toy_adapter.metrics["trained_at"]


def test_the_cache_key_follows_data_settings_and_seed(toy_request, tmp_path):
    other_seed = Request(**{**vars(toy_request), "settings": TrainSettings(**{**vars(TOY), "seed": 6})})
    assert other_seed.key() != toy_request.key() and cached(other_seed) is None
    changed = tmp_path / "changed.jsonl"
    changed.write_text(toy_request.train_path.read_text().replace("shipping", "billing"))
    assert Request(**{**vars(toy_request), "train_path": changed}).key() != toy_request.key()
    assert Request(**vars(toy_request)).key() == toy_request.key()


def test_the_cli_reuses_the_cache_and_copies_the_results(toy_request, toy_adapter, tmp_path, capsys):
    from workbook.finetune import cli

    out = tmp_path / "out"
    code = cli.main(["--data", str(toy_request.train_path), "--epochs", "3", "--learning-rate", "3e-3",
                     "--rank", "8", "--alpha", "16", "--seed", "5", "--threads", "1", "--quiet",
                     "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "Cached" in printed, printed
    assert (out / toy_adapter.gguf.name).read_bytes() == toy_adapter.gguf.read_bytes()
    assert (out / "metrics.json").is_file() and (out / "adapter" / "adapter_config.json").is_file()


async def _answer(settings: AISettings) -> str:
    provider = create_ai_provider(settings)
    try:
        return (await provider.chat([Message.user(PROBE)], max_tokens=8, temperature=0)).content
    finally:
        await provider.aclose()


def test_the_local_provider_applies_the_adapter(toy_adapter):
    base = asyncio.run(_answer(AISettings(provider="local")))
    tuned_settings = AISettings(provider="local", local_lora_path=str(toy_adapter.gguf))
    tuned = asyncio.run(_answer(tuned_settings))
    assert "shipping" not in base.lower(), f"the base model already says {base!r}: the test would prove nothing"
    assert "shipping" in tuned.lower(), f"with the adapter the answer was {tuned!r}"
    assert create_ai_provider(tuned_settings).model.endswith("+" + toy_adapter.gguf.stem)


def test_a_missing_adapter_file_is_a_configuration_error(tmp_path):
    from workbook.ai.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="AI__LOCAL_LORA_PATH") as raised:
        create_ai_provider(AISettings(provider="local", local_lora_path=str(tmp_path / "none.gguf")))
    assert raised.value.hint


def test_llama_server_applies_the_adapter(toy_adapter):
    from workbook.serving import LlamaServer
    from workbook.serving.build import BuildUnavailable, ensure_llama_server

    try:
        binary = ensure_llama_server(progress=None)
    except BuildUnavailable as unavailable:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(unavailable))
    with LlamaServer(engine="llama-server", threads=1, n_ctx=512, binary=binary,
                     lora_path=toy_adapter.gguf) as server:
        assert "--lora" in server.command
        answer = asyncio.run(_answer(server.settings("vllm", temperature=0.0)))
    assert "shipping" in answer.lower(), f"llama-server with --lora answered {answer!r}"
