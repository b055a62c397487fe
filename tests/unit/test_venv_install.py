"""``scripts/venv_install.py``: uv is handed exactly what pip's own configuration says (read
through the real ``pip config list``), in pip's order of precedence, and a setting uv cannot be
given sends the install to pip. That uv then installs what pip would (``pip freeze`` of a venv
made each way is identical) was checked on a whole ``make setup``; see the closing note of
issue 27."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("venv_install", ROOT / "scripts" / "venv_install.py")
venv_install = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(venv_install)


@pytest.fixture
def pip_config(tmp_path, monkeypatch):
    """Only the files and variables a test writes: the machine's own pip settings left out."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-site-config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "pip.conf"
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    return config


def test_pip_settings_rank_variables_over_install_over_global(pip_config, monkeypatch):
    pip_config.write_text(
        "[global]\nindex-url = https://global.example/simple\n"
        "extra-index-url = file:///a/simple file:///b/simple\nfind-links = /global/wheels\n"
        "[install]\nfind-links = /install/wheels\n")
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.example/simple")

    settings = venv_install.pip_settings(sys.executable)

    assert settings["index-url"] == "https://env.example/simple"
    assert settings["find-links"] == "/install/wheels"
    assert settings["extra-index-url"] == "file:///a/simple file:///b/simple"


def test_uv_is_given_every_index_link_constraint_and_certificate_pip_has():
    options, environment = venv_install.uv_options({
        "index-url": "https://user:token@i.example/simple",
        "extra-index-url": "file:///a/simple file:///b/simple",
        "find-links": "/opt/wheels",
        "constraint": "/etc/xdg/pip/constraints.txt",
        "cert": "/etc/ssl/certs/ca-certificates.crt",
        "timeout": "60",
        "disable-pip-version-check": "1",
    })

    assert options == [
        "--index-strategy", "unsafe-best-match",
        "--find-links", "/opt/wheels",
        "--constraint", "/etc/xdg/pip/constraints.txt",
        "--cert", "/etc/ssl/certs/ca-certificates.crt",
    ]
    # Index URLs may hold a password, so never on a command line every user can read.
    assert environment == {
        "UV_INDEX_URL": "https://user:token@i.example/simple",
        "UV_EXTRA_INDEX_URL": "file:///a/simple file:///b/simple",
        "UV_HTTP_TIMEOUT": "60",
    }


@pytest.mark.parametrize("setting", ["trusted-host", "proxy", "require-hashes", "prefer-binary"])
def test_a_setting_uv_cannot_be_given_leaves_the_install_to_pip(setting):
    assert venv_install.uv_options({"find-links": "/opt/wheels", setting: "x"}) is None


def test_an_install_pip_must_do_runs_pip_with_the_same_arguments(pip_config, monkeypatch,
                                                                 tmp_path):
    pip_config.write_text("[global]\ntrusted-host = pypi.example\n")
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    ran = []
    run = venv_install.subprocess.run
    monkeypatch.setattr(venv_install.subprocess, "run", _recording(ran, run))

    venv_install.install(sys.executable, ["--quiet", "--no-deps", "--no-index", "nothing-here==1"])

    assert ran[-1][:3] == [sys.executable, "-m", "pip"]
    kept = str(tmp_path / "cache" / "wheels")  # the wheels this machine compiled come first
    assert ran[-1][3:] == ["install", "--find-links", kept, "--quiet", "--no-deps", "--no-index",
                           "nothing-here==1"]
    assert not (tmp_path / "cache" / "uv").exists()  # uv was not even fetched


def _recording(ran, run):
    def record(command, *args, **kwargs):
        ran.append(list(command))
        return run(command, *args, **kwargs)
    return record


def test_a_kept_wheel_is_not_compiled_again(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    kept = tmp_path / "wheels" / "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"
    kept.parent.mkdir()
    kept.write_bytes(b"built earlier")
    ran = []
    run = venv_install.subprocess.run
    monkeypatch.setattr(venv_install.subprocess, "run", _recording(ran, run))

    assert venv_install.build_wheel(sys.executable, "llama-cpp-python[server]==0.3.36") == 0
    assert ran == [] and kept.read_bytes() == b"built earlier"
