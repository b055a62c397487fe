import os

import httpx
import pytest

from workbook.ai import Message, create_ai_provider
from workbook.ai.providers.local import model_is_available
from workbook.serving.llama_server import LlamaServer, LlamaServerError, free_port

# Skipped on a machine without the model; in CI (CI=true) it runs, and fails if it is missing.
needs_model = pytest.mark.skipif(not model_is_available() and os.environ.get("CI") != "true",
                                 reason="llama-cpp-python or the bundled GGUF is missing")


def test_env_points_openai_compatible_providers_at_the_server():
    server = LlamaServer(model_path=__file__, port=1234)
    assert server.env("vllm") == {"AI__PROVIDER": "vllm", "AI__VLLM_BASE_URL": "http://127.0.0.1:1234/v1",
                                  "AI__MODEL": "smollm2"}
    assert server.settings("lmstudio").provider == "lmstudio"
    with pytest.raises(ValueError):
        server.env("ollama")
    assert "--host" in server.command and "127.0.0.1" in server.command


def test_a_server_that_exits_reports_its_log(tmp_path):
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"not a gguf")
    server = LlamaServer(model_path=bogus, startup_timeout_s=20)
    with pytest.raises(LlamaServerError, match="exited"):
        server.start()
    assert not server.running


@pytest.mark.slow
@needs_model
async def test_serves_the_bundled_model_and_stops_on_exit():
    port = free_port()
    with LlamaServer(port=port) as server:
        assert server.running
        models = httpx.get(f"{server.base_url}/models").json()
        assert models["data"][0]["id"] == "smollm2"
        provider = create_ai_provider(server.settings("vllm"))
        reply = await provider.chat([Message.user("Say hi")], max_tokens=8, temperature=0)
        assert reply.content and reply.usage.output_tokens
        await provider.aclose()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)


@pytest.mark.slow
@needs_model
async def test_stops_when_the_block_raises():
    server = LlamaServer()
    with pytest.raises(RuntimeError, match="boom"):
        with server:
            raise RuntimeError("boom")
    assert not server.running and server.process is None


def test_waiting_for_another_build_is_bounded_and_says_what_to_do(tmp_path, monkeypatch):
    import fcntl

    from workbook.serving import build

    lock = tmp_path / ".lock"
    said = []
    monkeypatch.setattr(build, "WAIT_FOR_OTHER_BUILD_S", 2)
    with open(lock, "w") as other_build:
        fcntl.flock(other_build, fcntl.LOCK_EX)      # another build holds it and never finishes
        with pytest.raises(LlamaServerError, match="delete that file"):
            with build._locked(lock, said.append):
                pass
    assert said == ["Another process is building llama-server; waiting for it..."]
    with build._locked(lock, said.append):            # released: taken at once, nothing said
        pass
    assert len(said) == 1


def test_a_changed_build_recipe_gets_its_own_cache_entry(monkeypatch):
    """A machine holding a server built the old way builds anew, never mistakes it for this one."""
    from workbook.serving import build

    before = build.cpu_fingerprint()
    monkeypatch.setattr(build, "BUILD_RECIPE", build.BUILD_RECIPE.replace("-O0", "-O1"))
    assert build.cpu_fingerprint() != before
    monkeypatch.undo()
    assert build.cpu_fingerprint() == before


def test_only_the_multimodal_library_is_compiled_unoptimised(tmp_path):
    """What the server runs (its own code, llama.cpp's common code) stays at -O3: only mtmd,
    which a text-only model never calls, gets -O0, and it comes after the Release flags."""
    import shutil
    import subprocess

    from workbook.serving import build

    source = tmp_path / "src"
    (source / "mm").mkdir(parents=True)
    (source / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.19)\nproject(\"llama.cpp\" CXX)\n"
        "add_subdirectory(mm)\nadd_library(server STATIC server.cpp)\n")
    (source / "mm" / "CMakeLists.txt").write_text("add_library(mtmd STATIC clip.cpp)\n")
    for name in ("server.cpp", "mm/clip.cpp"):
        (source / name).write_text("int f() { return 1; }\n")
    include = tmp_path / "include.cmake"
    include.write_text(build.MULTIMODAL_UNOPTIMISED)
    if shutil.which("cmake") is None or shutil.which("ninja") is None:
        pytest.skip("cmake and ninja are needed to configure (make setup's machines have both)")
    subprocess.run(["cmake", "-S", str(source), "-B", str(tmp_path / "b"), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PROJECT_llama.cpp_INCLUDE={include}"],
                   check=True, capture_output=True)
    commands = subprocess.run(["ninja", "-C", str(tmp_path / "b"), "-t", "commands"],
                              check=True, capture_output=True, text=True).stdout.splitlines()
    levels = {line.split(" -o ")[1].split()[0]: [w for w in line.split() if w.startswith("-O")]
              for line in commands if " -c " in line}
    assert {o: flags[-1] for o, flags in levels.items()} == {
        "mm/CMakeFiles/mtmd.dir/clip.cpp.o": "-O0", "CMakeFiles/server.dir/server.cpp.o": "-O3"}
