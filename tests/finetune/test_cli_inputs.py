"""``python -m workbook finetune`` refuses bad input with one clear line, before any training."""

import json

import pytest

from workbook.finetune import cli

pytest.importorskip("gguf", reason="the fine-tuning extra is not installed (make finetune)")

GOOD = {"messages": [{"role": "user", "content": "Where is my order?"},
                     {"role": "assistant", "content": "shipping"}]}


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(capsys, *args):
    code = cli.main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def write(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


@pytest.mark.parametrize("lines, problem", [
    ([], "empty"),
    ([{"prompt": "Where is my order?", "completion": "shipping"}], "not the chat format"),
    ([GOOD, {"messages": [{"role": "user", "content": "My card was refused"}]}], "line 2: no assistant turn"),
    (["{broken"], "not JSON"),
])
def test_bad_data_is_one_line_and_nothing_trains(tmp_path, capsys, fresh_cache, lines, problem):
    code, out, err = run(capsys, "--data", write(tmp_path / "d.jsonl", lines))
    assert code == 2
    assert problem in err and len(err.strip().splitlines()) == 1, err
    assert "Loading" not in out and not (fresh_cache / "finetune").exists()


def test_a_missing_file_says_so(tmp_path, capsys):
    code, _, err = run(capsys, "--data", tmp_path / "nope.jsonl")
    assert code == 2 and "no such file" in err


def test_a_base_model_that_is_not_llama_is_refused(tmp_path, capsys, fresh_cache):
    import gguf

    model = tmp_path / "tiny-gpt2.gguf"
    writer = gguf.GGUFWriter(str(model), "gpt2")
    writer.add_block_count(1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    code, out, err = run(capsys, "--model", model, "--data", write(tmp_path / "d.jsonl", [GOOD]))
    assert code == 2
    assert "'gpt2' model" in err and "llama" in err and len(err.strip().splitlines()) == 1, err
    assert "Loading" not in out and not (fresh_cache / "finetune").exists()


def test_a_file_that_is_not_a_gguf_is_refused(tmp_path, capsys):
    model = tmp_path / "weights.gguf"
    model.write_bytes(b"not a model at all")
    code, _, err = run(capsys, "--model", model)
    assert code == 2 and "not a readable GGUF" in err


def test_bad_settings_are_refused(capsys):
    code, _, err = run(capsys, "--epochs", "0")
    assert code == 2 and "--epochs must be 1 or more" in err
