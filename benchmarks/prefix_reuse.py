"""What re-reading a shared prompt prefix costs notebook 08, and whether reusing it changes answers.

The local provider evaluates every prompt afresh at temperature 0 (``llama.reset()`` in
``workbook/ai/providers/local.py``: a reused prefix is evaluated in other batch sizes, which can
shift logits). 08's few-shot prompts share a ~200-token prefix (instruction and four examples), so
each ticket re-reads it. This runs 08's own prompts for a strategy both ways on the bundled model,
greedy, 8 tokens: the time of each and how many answers differ. Compare within one run.

    .venv/bin/python benchmarks/prefix_reuse.py [--strategies "few-shot,retrieved examples"]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_fine_tuning_considerations.ipynb"


def notebook_namespace() -> dict:
    """08's own tickets and strategies: its first code cells, run as the notebook runs them."""
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    namespace = {"BACKEND": "local", "MAX_TOKENS": 8, "FINETUNE": False, "display": print}
    for cell in cells[1:4]:   # provider and tickets, the labelled data, the strategies
        exec("".join(cell["source"]), namespace)  # noqa: S102 - the course's own notebook
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="few-shot,retrieved examples")
    args = parser.parse_args()
    namespace = notebook_namespace()
    loaded = namespace["provider"]._loaded   # the provider's llama.cpp model, driven directly here
    llama = loaded.llama

    def tokens_of(messages):
        prompt = loaded.format_prompt([{"role": m.role, "content": m.content} for m in messages])
        return llama.tokenize(prompt.encode(), add_bos=False, special=True)

    def answer(tokens, fresh: bool) -> str:
        if fresh:
            llama.reset()
        out = []
        for token in llama.generate(tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.05,
                                    repeat_penalty=1.0, reset=True):
            if token in loaded.end_tokens or len(out) >= namespace["MAX_TOKENS"]:
                break
            out.append(token)
        return llama.detokenize(out).decode(errors="replace")

    for name in args.strategies.split(","):
        prompts = [tokens_of(namespace["STRATEGIES"][name](t)) for t in namespace["tickets"]]
        answers, seconds = {}, {}
        for mode in ("fresh", "reused"):
            started = time.perf_counter()
            answers[mode] = [answer(tokens, fresh=mode == "fresh") for tokens in prompts]
            seconds[mode] = time.perf_counter() - started
        same = sum(a == b for a, b in zip(answers["fresh"], answers["reused"]))
        print(f"{name}: read afresh {seconds['fresh']:.1f} s, prefix reused {seconds['reused']:.1f} s "
              f"(ratio {seconds['reused'] / seconds['fresh']:.2f}); the same answer for {same} of "
              f"{len(prompts)} tickets", flush=True)


if __name__ == "__main__":
    main()
