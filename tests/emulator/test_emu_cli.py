"""``python -m workbook.emulator`` in a subprocess: prints .env blocks, serves, stops on SIGTERM."""

import socket
import subprocess
import sys
import time

import httpx
import pytest

from command_line import refusal


def test_cli_prints_env_lines_and_serves():
    process = subprocess.Popen(
        [sys.executable, "-m", "workbook.emulator", "--port", "0", "--ttft-s", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line.rstrip("\n"))
            if line.startswith("Faults:") or not line:
                break
        env = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith(("#", "Faults")))
        assert "# bedrock" in lines and "# ollama" in lines
        assert not any(line.startswith("export") for line in lines)
        url = env["AI__OLLAMA_BASE_URL"]
        assert url.startswith("http://127.0.0.1:") and env["AI__OPENAI_BASE_URL"] == f"{url}/v1"
        reply = httpx.post(f"{url}/api/chat", json={"model": "llama3.2", "messages": [], "stream": False})
        assert reply.json()["done"] is True
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0


def _emulator_refuses(argv, capsys):
    from workbook.emulator.__main__ import main

    return refusal(main, argv, capsys)[:2]


@pytest.mark.parametrize("argv, named", [
    (["--port", "-1"], "--port"), (["--port", "70000"], "--port"), (["--ttft-s", "nan"], "--ttft-s"),
    (["--ttft-s", "-1"], "--ttft-s"), (["--tokens-per-s", "0"], "--tokens-per-s"),
    (["--tokens-per-s", "inf"], "--tokens-per-s"),
])
def test_a_bad_argument_is_one_line_naming_it(argv, named, capsys):
    status, line = _emulator_refuses(argv, capsys)
    assert status == 2 and named in line, line


def test_a_taken_port_is_one_line_and_a_nonzero_exit(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status, line = _emulator_refuses(["--port", str(port)], capsys)
    assert status == 1 and "--port" in line and str(port) in line, line
