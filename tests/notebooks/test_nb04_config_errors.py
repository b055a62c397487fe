"""Notebook 04's ConfigurationError cell must not depend on the student's own configuration.

It once built from the environment and ``.env``: with Azure configured there, nothing was
raised and the cell passed silently (no ``else``), and its single assert accepted either
case's message for both. Here the cell's own source runs under a fully configured Azure
environment and ``.env``, and with a factory that raises nothing.
"""

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_provider_abstraction.ipynb"
IMPORTS, CELL = "5ec2e6ba", "f262394f"  # cell ids
AZURE = {"AI__PROVIDER": "azure_openai", "AI__AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
         "AI__AZURE_OPENAI_API_KEY": "k" * 32, "AI__AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini"}


def _source(cell_id: str) -> str:
    cells = {c.id: c for c in nbformat.read(NOTEBOOK, as_version=4).cells}
    return cells[cell_id].source


def _run(namespace: dict) -> None:
    exec(compile(_source(CELL), f"{NOTEBOOK.name}:{CELL}", "exec"), namespace)


@pytest.fixture
def namespace():
    namespace: dict = {}
    exec(_source(IMPORTS), namespace)
    return namespace


def test_each_case_raises_and_names_its_variable_even_with_azure_configured(
        namespace, monkeypatch, tmp_path, capsys):
    for name, value in AZURE.items():
        monkeypatch.setenv(name, value)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in AZURE.items()))
    monkeypatch.chdir(tmp_path)
    _run(namespace)
    out = capsys.readouterr().out
    assert "AI__AZURE_OPENAI_ENDPOINT" in out, "the Azure case raised nothing: it read the .env"
    assert "AI__PROVIDER" in out


def test_the_cell_fails_when_nothing_is_raised(namespace):
    namespace["create_ai_provider"] = lambda *args, **kwargs: object()
    with pytest.raises(AssertionError, match="no ConfigurationError was raised"):
        _run(namespace)
