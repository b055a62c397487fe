"""What the fine-tuning costs and buys on this machine, side by side in one run.

1. ``train``: training tokens/s of ``python -m workbook finetune``'s loop (the same
   ``TrainingLoop`` the command runs) vs a bare peft loop over the same batches, settings and
   seed (forward, backward, AdamW step, nothing else). Goal: the workbook's >= 0.9x the bare one.
2. ``decode``: output tokens/s of the local provider (llama.cpp) with the fine-tuned adapter vs
   the base model, same prompts, alternating. Goal: >= 0.8x.
3. ``route``: the fine-tuned model through transformers (greedy) on notebook 08's 20 held-out
   tickets, asked the bare ticket: routed correctly, one-word answers. (Notebook 08 measures the
   same through llama.cpp; this leg needs only torch.) ``unlike``: the same on a dozen tickets
   worded unlike the training data and 08's (slang, indirect, no team keywords).

``decode`` and ``route`` use the cached default adapter (``python -m workbook finetune`` makes it).
Expect 10-15% noise on a shared machine: compare within one run.

    .venv/bin/python benchmarks/finetune.py [--parts train,decode,route,unlike] [--steps 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time


def train_leg(steps: int, threads: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from workbook.finetune import train as ft

    request = ft.default_request(threads=threads)
    examples, _ = ft.check_request(request)
    torch.set_num_threads(threads)
    model, tokenizer, template = ft.load_base(request.model_path)
    encoder = ft.Encoder(tokenizer, template)
    rows = [encoder.encode(e) for e in examples]
    settings = ft.TrainSettings(max_steps=steps)
    # Interleaved, best of two each: a burst of other load on the machine hits one run, not a side.
    figures = {"workbook loop": 0.0, "bare peft loop": 0.0}
    for name in ("bare peft loop", "workbook loop", "bare peft loop", "workbook loop"):
        torch.manual_seed(settings.seed)
        lora = get_peft_model(model, LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=0.0,
                                                target_modules=list(ft.LORA_TARGETS), task_type="CAUSAL_LM"))
        if name == "workbook loop":
            loop = ft.TrainingLoop(lora, rows, settings, pad_id=encoder.pad_id)
            loop.run_epoch(0, progress=False)
            tokens, seconds = loop.tokens, loop.seconds
        else:
            tokens, seconds = _bare_loop(lora, rows, settings, encoder.pad_id)
        figures[name] = max(figures[name], tokens / seconds)
        print(f"  {name:24s} {tokens} tokens in {seconds:.1f} s: {tokens / seconds:.0f} tokens/s", flush=True)
        model = lora.unload()  # the same base weights for the next contender
    workbook = figures["workbook loop"]
    return {"workbook_tokens_per_s": workbook, "bare_tokens_per_s": figures["bare peft loop"],
            "ratio": workbook / figures["bare peft loop"]}


def _bare_loop(model, rows, settings, pad_id: int) -> tuple[int, float]:
    """The loop anyone would write: same shuffling, batches and optimizer, no bookkeeping."""
    import random

    import torch

    from workbook.finetune.train import _batch

    order = list(range(len(rows)))
    random.Random(settings.seed).shuffle(order)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=settings.learning_rate, weight_decay=0.0)
    model.train()
    tokens, started = 0, time.perf_counter()
    for step in range(settings.max_steps):
        batch = [rows[i] for i in order[step * settings.batch_size:(step + 1) * settings.batch_size]]
        ids, labels, mask = _batch(batch, pad_id)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
    return tokens, time.perf_counter() - started


# Worded unlike the training data and 08's tickets: slang, indirect, long-winded, no keywords.
UNLIKE = [("yo so the thing u sent me is the wrong colour lol can u swap it", "shipping"),
          ("Hi. Money left my account twice on the 3rd. Same amount. Explain please.", "billing"),
          ("Every time I hit save the whole screen goes white and I lose my work.", "technical"),
          ("I can't get in. It keeps asking for a code I never receive on my phone.", "account"),
          ("My grandmother wants to know why the statement says 19.99 when she pays 14.99.", "billing"),
          ("The courier says the address doesn't exist but I've lived here 10 years.", "shipping"),
          ("When I open two windows at once the second one just spins.", "technical"),
          ("Please change the name on my login, I got married.", "account"),
          ("Honestly I'm not sure who to ask, but the box was supposed to be here Tuesday.", "shipping"),
          ("Your checkout added 8% on top and I don't know what for.", "billing"),
          ("The thing where it remembers me doesn't work, I have to sign in every single time.", "account"),
          ("Since last night the numbers on my dashboard are all zeros even though sales happened.", "technical")]

PROMPTS = ["Write two sentences about the sea.", "Explain what a parcel locker is.",
           "Describe a rainy morning in a city.", "Give three tips for writing an email."]


def decode_leg(adapter: str, rounds: int) -> dict:
    from workbook.ai import AISettings, Message, create_ai_provider

    async def rate(provider) -> float:
        tokens = seconds = 0.0
        for prompt in PROMPTS:
            started = time.perf_counter()
            reply = await provider.chat([Message.user(prompt)], max_tokens=64, temperature=0)
            seconds += time.perf_counter() - started
            tokens += reply.usage.output_tokens
        return tokens / seconds

    base = create_ai_provider(AISettings(provider="local"))
    tuned = create_ai_provider(AISettings(provider="local", local_lora_path=adapter))
    rates = {"base": [], "adapter": []}
    for _ in range(rounds):  # alternating, so load drifts hit both alike
        rates["base"].append(asyncio.run(rate(base)))
        rates["adapter"].append(asyncio.run(rate(tuned)))
    best = {name: max(values) for name, values in rates.items()}
    for name, value in best.items():
        print(f"  {name:8s} {value:.0f} output tokens/s (best of {rounds})", flush=True)
    return {"base_tokens_per_s": best["base"], "adapter_tokens_per_s": best["adapter"],
            "ratio": best["adapter"] / best["base"]}


def route_leg(result, threads: int, tickets=None) -> dict:
    import torch
    from peft import PeftModel

    from workbook.finetune import train as ft
    from workbook.finetune.data import TEAMS, Example, eval_tickets

    torch.set_num_threads(threads)
    model, tokenizer, template = ft.load_base(ft.default_request().model_path)
    model = PeftModel.from_pretrained(model, str(result.adapter)).eval()
    encoder = ft.Encoder(tokenizer, template)
    right = one_word = 0
    started = time.perf_counter()
    tickets = tickets or eval_tickets()
    for ticket in tickets:
        prompt = encoder.prompt(Example(None, ticket["text"], ""))
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=encoder.pad_id)
        answer = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        named = list(dict.fromkeys(re.findall(r"\b(" + "|".join(TEAMS) + r")\b", answer.lower())))
        right += named == [ticket["label"]]
        one_word += len(re.findall(r"[A-Za-z]+", answer)) == 1
        print(f"  {ticket['label']:9s} <- {answer!r:14s} {ticket['text'][:60]}", flush=True)
    n = len(tickets)
    return {"accuracy": right / n, "one_word": one_word / n, "seconds_per_ticket": (time.perf_counter() - started) / n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="train,decode,route")
    parser.add_argument("--steps", type=int, default=12, help="training steps per loop")
    parser.add_argument("--rounds", type=int, default=3, help="decode rounds per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    figures: dict = {}
    result = None
    if {"decode", "route", "unlike"} & set(parts):
        from workbook.finetune.train import cached, default_request

        result = cached(default_request())
        if result is None:
            print("No cached default adapter: run `python -m workbook finetune` first.", file=sys.stderr)
            return 2
    if "train" in parts:
        print(f"Training tokens/s, {args.steps} steps each, {args.threads} threads:", flush=True)
        figures["train"] = train_leg(args.steps, args.threads)
        print(f"  workbook / bare = {figures['train']['ratio']:.2f} (goal >= 0.9)", flush=True)
    if "decode" in parts:
        print("Decode tokens/s, local provider, 64-token answers:", flush=True)
        figures["decode"] = decode_leg(str(result.gguf), args.rounds)
        print(f"  adapter / base = {figures['decode']['ratio']:.2f} (goal >= 0.8)", flush=True)
    if "route" in parts:
        print("The fine-tuned model (transformers, greedy) on 08's 20 held-out tickets:", flush=True)
        figures["route"] = route_leg(result, args.threads)
        print(f"  routed correctly {figures['route']['accuracy']:.0%}, one-word answers "
              f"{figures['route']['one_word']:.0%}", flush=True)
    if "unlike" in parts:
        print(f"The fine-tuned model (transformers, greedy) on {len(UNLIKE)} tickets worded unlike any:", flush=True)
        figures["unlike"] = route_leg(result, args.threads, [{"text": t, "label": team} for t, team in UNLIKE])
        print(f"  routed correctly {figures['unlike']['accuracy']:.0%}, one-word answers "
              f"{figures['unlike']['one_word']:.0%}", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
