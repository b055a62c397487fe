"""``.devcontainer/devcontainer.json``, checked without a container runtime: it parses (as
JSONC: comments and trailing commas allowed, as the dev container tools read it), its set-up
is a target of the Makefile that ``make lab`` runs first, its image's Python is one the
Makefile accepts, and it forwards the port ``make lab`` serves on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def strip_jsonc(text: str) -> str:
    """JSON from JSONC: ``//`` and ``/* */`` comments outside strings, and trailing commas, removed."""
    out, i, in_string = [], 0, False
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\":
                out.append(text[i + 1])
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            assert end >= 0, "an unclosed /* comment"
            i = end + 2
            continue
        else:
            out.append(char)
        i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def test_the_jsonc_reader_keeps_strings_and_drops_comments():
    text = '{"url": "http://x//y", /* a */ "a": [1, 2,], // b\n "s": "q\\"//"}'
    assert json.loads(strip_jsonc(text)) == {"url": "http://x//y", "a": [1, 2], "s": 'q"//'}


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads(strip_jsonc(DEVCONTAINER.read_text(encoding="utf-8")))


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*):(?!=)", MAKEFILE, re.M))


def test_its_set_up_is_the_makefile_target_make_lab_runs_first(config):
    command = config.get("postCreateCommand")
    assert isinstance(command, str), "postCreateCommand should be one shell command, the README's"
    match = re.fullmatch(r"make (\S+)", command.strip())
    assert match, f"postCreateCommand {command!r} should be `make TARGET`, as the README says"
    target = match.group(1)
    assert target in make_targets(), f"the Makefile has no target {target!r}"
    lab = re.search(r"^lab:([^\n]*)", MAKEFILE, re.M)
    assert lab and target in lab.group(1).split(), \
        f"`make lab` should run {target!r} first, so the container is set up as the README's command sets up"


def test_its_image_has_a_python_the_makefile_accepts(config):
    minimum = re.search(r"sys\.version_info < \((\d+), (\d+)\)", MAKEFILE)
    assert minimum, "the Makefile states the oldest Python it accepts"
    image = config.get("image", "")
    version = re.search(r"python:(?:\d+-)?(\d+)\.(\d+)", image)
    assert version, f"the image {image!r} should name its Python version"
    assert tuple(map(int, version.groups())) >= tuple(map(int, minimum.groups()))


def test_it_forwards_the_port_make_lab_serves_on(config):
    port = re.search(r"^PORT\s*\?=\s*(\d+)", MAKEFILE, re.M)
    assert port and int(port.group(1)) in config.get("forwardPorts", [])


def test_the_readme_offers_the_same_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ".devcontainer/devcontainer.json" in readme
    command = json.loads(strip_jsonc(DEVCONTAINER.read_text(encoding="utf-8")))["postCreateCommand"]
    assert f"`{command}`" in readme, f"the README should say the container runs `{command}`"
