"""One real llama-server for the module that asks for it: built (or found in the cache) and
started once, because starting costs about a second and building minutes."""

from __future__ import annotations

import os

import pytest

from workbook.ai.providers.local import model_is_available
from workbook.serving import LlamaServer
from workbook.serving.build import BuildUnavailable, ensure_llama_server

needs_model = pytest.mark.skipif(not model_is_available() and os.environ.get("CI") != "true",
                                 reason="llama-cpp-python or the bundled GGUF is missing")


def pytest_collection_modifyitems(config, items):
    """On a new machine the first test that needs llama-server waits for the build that
    ``make test`` started (minutes, bounded by the build's own wait limit): the test's
    timeout counts from the test itself, not from that wait."""
    for item in items:
        if "llama_server_binary" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(300, func_only=True))


@pytest.fixture(scope="module")
def llama_server_binary():
    try:
        return ensure_llama_server(progress=print)
    except BuildUnavailable as unavailable:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(unavailable))


@pytest.fixture(scope="module")
def batching_server(llama_server_binary):
    with LlamaServer(engine="llama-server", parallel=4, threads=1, n_ctx=1024,
                     binary=llama_server_binary) as server:
        yield server
