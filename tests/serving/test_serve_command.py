"""``python -m workbook serve`` as an instructor runs it, and the build's cache and fallback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from workbook.ai.registry import get_spec, openai_compatible_names
from workbook.ai.settings import env_name
from workbook.ports import free_port
from workbook.serving import LlamaServer, serve
from workbook.serving import build

from command_line import refusal

from .conftest import needs_model


@pytest.mark.slow
@needs_model
def test_serve_prints_the_url_and_settings_and_stops_on_ctrl_c(llama_server_binary):
    port = free_port()
    process = subprocess.Popen(
        # -X faulthandler: if it does not stop, SIGABRT below prints where each thread waits.
        [sys.executable, "-X", "faulthandler", "-m", "workbook", "serve", "--parallel", "2",
         "--port", str(port), "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,   # its llama-server shares the group: a failed run ends both
        # Started as a notebook kernel's `!` command starts it: with SIGINT ignored, which exec
        # passes on (a test worker once had it so, and Ctrl-C then did nothing).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    lines, rest = [], None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Ctrl-C" in line or not line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/v1" in output, output
        for provider in openai_compatible_names():
            assert f"AI__PROVIDER={provider}" in output
            assert f"{env_name(get_spec(provider).url_field)}=http://127.0.0.1:{port}/v1" in output
        assert "2 parallel slots" in output
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            stuck, _ = process.communicate(timeout=10)
            pytest.fail(f"serve did not stop within 20 s of Ctrl-C; where it waited:\n{stuck}")
    finally:
        if rest is None:  # it failed half-way: nothing it started may outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    assert process.returncode == 0 and "Server stopped" in rest
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


def test_the_cache_is_keyed_by_version_and_cpu_and_lives_outside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    entry = build.cache_dir()
    assert entry.parent == tmp_path / "llama-server"
    assert entry.name == f"{build.llama_cpp_version()}-{build.cpu_fingerprint()}"
    assert build.cached_binary() is None
    entry.mkdir(parents=True)
    (entry / "llama-server").write_text("#!/bin/sh\n")
    (entry / "llama-server").chmod(0o755)
    assert build.cached_binary() == entry / "llama-server"


@pytest.mark.slow
@needs_model
def test_without_a_compiler_serve_says_so_and_falls_back_to_the_one_at_a_time_server(
        monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))  # nothing built there
    monkeypatch.setenv("PATH", str(tmp_path))                # no cmake, no c++
    with pytest.raises(build.BuildUnavailable, match="cmake") as caught:
        build.ensure_llama_server(progress=None)
    assert "apt install cmake g++" in caught.value.hint
    said = []
    with serve("llama-server", parallel=8, progress=said.append, threads=1) as server:
        assert server.engine == "llama-cpp-python" and server.parallel == 1 and server.running
    assert "one request at a time" in said[0] and "cmake" in said[0]


def test_llama_server_command_line():
    server = LlamaServer(model_path=__file__, engine="llama-server", parallel=4, n_ctx=512,
                         port=1234, binary="/opt/llama-server", continuous_batching=False)
    command = server.command
    assert command[0] == "/opt/llama-server"
    assert command[command.index("--parallel") + 1] == "4"
    assert command[command.index("--ctx-size") + 1] == str(512 * 4)  # each slot gets n_ctx
    assert "--no-cont-batching" in command and "127.0.0.1" in command
    with pytest.raises(ValueError, match="one request at a time"):
        LlamaServer(model_path=__file__, engine="llama-cpp-python", parallel=2)
    with pytest.raises(ValueError, match="engine"):
        LlamaServer(model_path=__file__, engine="vllm")


def _serve_refuses(argv, capsys, monkeypatch):
    """(exit status, the one stderr line) of ``serve`` with ``argv``; fails if it started any
    work (a build of minutes, a model load) before refusing."""
    from workbook.serving import cli

    def no_work(*args, **kwargs):
        raise AssertionError("serve() ran although the arguments were bad")

    monkeypatch.setattr(cli, "serve", no_work)
    return refusal(cli.main, argv, capsys)[:2]


@pytest.mark.parametrize("argv, named", [
    (["--port", "70000"], "--port"), (["--port", "-1"], "--port"), (["--port", "http"], "--port"),
    (["--parallel", "0"], "--parallel"), (["--threads", "-2"], "--threads"),
])
def test_a_bad_number_is_one_line_naming_the_argument(argv, named, capsys, monkeypatch):
    status, line = _serve_refuses(argv, capsys, monkeypatch)
    assert status == 2 and named in line, line


def test_a_taken_port_or_a_missing_model_is_refused_before_any_build(capsys, monkeypatch, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status, line = _serve_refuses(["--port", str(port)], capsys, monkeypatch)
    assert status == 1 and "--port" in line and str(port) in line, line
    status, line = _serve_refuses(["--port", str(free_port()), "--model", str(tmp_path / "no.gguf")],
                                  capsys, monkeypatch)
    assert status == 1 and "--model" in line, line
