"""``python -m workbook.emulator`` in a subprocess: prints .env blocks, serves, stops on SIGTERM."""

import subprocess
import sys
import time

import httpx


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
