"""``python -m workbook compare`` end to end, in a subprocess as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from command_line import refusal

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def run(args, cwd, **env_changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI__")}
    env.update(env_changes)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([PYTHON, "-m", "workbook", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_compare_mock_and_a_profile_writes_tables_and_plots(tmp_path):
    profile = tmp_path / "fast.env"
    # 30 ms against 1 ms: far apart, so a busy machine cannot swap their medians.
    profile.write_text("AI__PROVIDER=mock\nAI__MOCK_TTFT_S=0.03\nAI__MOCK_TOKENS_PER_S=4000\n")
    out = tmp_path / "out"
    done = run(["compare", "--provider", "mock", "--provider", str(profile),
                "--provider", "quick=fast.env", "--runs", "1", "--out", str(out), "--no-progress"],
               cwd=tmp_path, AI__MOCK_TTFT_S="0.001", AI__MOCK_TOKENS_PER_S="5000")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "TTFT p50" in done.stdout and "quality" in done.stdout
    for name in ("summary.csv", "summary.json", "records.csv", "records.json",
                 "quality_by_check.csv", "run.json", "latency.png", "speed.png", "quality.png"):
        assert (out / name).stat().st_size > 0, name
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert list(summary.index) == ["mock", "fast", "quick"]
    # The profile's pace won over the environment's.
    assert summary.loc["fast", "ttft_s_p50"] > summary.loc["mock", "ttft_s_p50"]
    records = json.loads((out / "records.json").read_text())
    assert len(records) == 3 * (1 + 22)


def test_unknown_provider_is_one_line_and_nonzero(tmp_path):
    done = run(["compare", "--provider", "nosuch", "--no-progress"], cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nosuch" in lines[0] and "valid names" in lines[0]
    assert "Traceback" not in done.stderr


def test_bad_arguments_and_files_are_one_line_errors(tmp_path):
    for args, status in ((["compare", "--provider", "mock", "--runs", "0"], 2),
                         (["compare", "--provider", "missing.env"], 1),
                         (["compare", "--provider", "mock", "--cases", "none.jsonl"], 1),
                         (["nosuchcommand"], 2)):
        done = run(args, cwd=tmp_path)
        assert done.returncode == status, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)


def test_a_provider_that_fails_every_call_still_exits_zero(tmp_path):
    # Ollama on a port where nothing listens: every call fails, the table says so.
    cases = tmp_path / "one.jsonl"
    cases.write_text('{"prompt": "Capital of France?", "check": "contains", "expected": "Paris"}\n')
    done = run(["compare", "--provider", "ollama", "--runs", "1", "--warmup", "0", "--no-progress",
                "--cases", str(cases)], cwd=tmp_path,
               AI__OLLAMA_BASE_URL="http://127.0.0.1:9", AI__MAX_RETRIES="0", AI__TIMEOUT_S="2")
    assert done.returncode == 0, done.stderr
    assert "Errors:" in done.stdout and "ollama" in done.stdout


GOOD_CASE = b'{"prompt": "Capital of France?", "check": "contains", "expected": "Paris"'
BAD_CASES = {
    "wrong type": (GOOD_CASE + b', "tolerance": "close"}\n', "'tolerance' must be a number"),
    "choices as a string": (b'{"prompt": "A or B?", "check": "choice", "expected": "A", '
                            b'"choices": "AB"}\n', "'choices' must be a list of strings"),
    "invalid UTF-8": (GOOD_CASE + b'}\n{"prompt": "caf\xe9?", "check": "contains", "expected": "x"}\n',
                      "line 2: not UTF-8"),
    "deep nesting": (b"[" * 200_000 + b"]" * 200_000 + b"\n", "nested too deeply"),
    "a huge line": (b'{"prompt": "' + b"a" * 3_000_000 + b'", "check": "contains", "expected": "a"}\n',
                    "longer than"),
}


def refused(args, capsys, cwd, monkeypatch, *needles) -> int:
    """compare's own main() in this process, for arguments it must refuse in one line
    naming ``needles``, before the run starts; returns the exit status."""
    from workbook.compare.cli import main

    monkeypatch.chdir(cwd)
    status, line, out = refusal(main, args, capsys)
    assert "Comparing" not in out, "the run started before the argument was checked"
    for needle in needles:
        assert needle in line, (needle, line)
    return status


def _one_error_line(out, err, *needles):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "Comparing" not in out, "the run started before the argument was checked"
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize("problem", sorted(BAD_CASES))
def test_a_bad_cases_file_is_one_line_naming_the_problem(tmp_path, problem, capsys, monkeypatch):
    content, expected = BAD_CASES[problem]
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(content)
    status = refused(["--provider", "mock", "--cases", str(cases), "--no-progress"], capsys, tmp_path,
                     monkeypatch, "cases.jsonl", expected)
    assert status == 1


def test_a_fifo_as_cases_file_is_refused_without_waiting_for_a_writer(tmp_path):
    # In a subprocess with a timeout: opening a FIFO nobody writes to would block for ever.
    fifo = tmp_path / "cases.jsonl"
    os.mkfifo(fifo)
    done = run(["compare", "--provider", "mock", "--cases", str(fifo), "--no-progress"], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    _one_error_line(done.stdout, done.stderr, "not a regular file")


@pytest.mark.parametrize("timeout", ["nan", "-1", "0", "inf", "soon"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(tmp_path, timeout, capsys, monkeypatch):
    status = refused(["--provider", "mock", "--timeout", timeout], capsys, tmp_path, monkeypatch,
                     "--timeout")
    assert status == 2


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unwritable_out_folder_is_refused_before_the_run(tmp_path, where, capsys, monkeypatch):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder\n")
    out = blocker if where == "a file" else blocker / "results"
    status = refused(["--provider", "mock", "--runs", "1", "--out", str(out), "--no-progress"],
                     capsys, tmp_path, monkeypatch, "--out", str(out))
    assert status == 1
    assert blocker.read_text() == "not a folder\n"
