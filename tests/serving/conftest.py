"""One real llama-server for the module that asks for it: built (or found in the cache) and
started once, because starting costs about a second and building minutes."""

from __future__ import annotations

import os

import pytest

from workbook.ai.providers.local import model_is_available
from workbook.serving import LlamaServer

needs_model = pytest.mark.skipif(not model_is_available() and os.environ.get("CI") != "true",
                                 reason="llama-cpp-python or the bundled GGUF is missing")


@pytest.fixture(scope="module")
def batching_server(llama_server_binary):
    with LlamaServer(engine="llama-server", parallel=4, threads=1, n_ctx=1024,
                     binary=llama_server_binary) as server:
        yield server
