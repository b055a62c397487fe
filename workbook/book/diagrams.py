"""Mermaid, which draws the course's diagrams in the browser, for the site.

The course's diagrams are Mermaid text (JupyterLab draws them itself). The site ships
mermaid's own browser bundle, taken from its npm package (``npm pack``, the registry's ordinary
client) once per machine into the workbook's cache. Without npm or the registry the site is
still built, and each diagram shows as its source text, with a warning at build time.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ..cache import cache_home

MERMAID_VERSION = "12.3.0"
NPM_TIMEOUT_S = 180


def mermaid_script() -> tuple[Path | None, str]:
    """The cached ``mermaid.min.js`` (fetched now if need be), or ``None`` and why not."""
    folder = cache_home() / "book" / f"mermaid-{MERMAID_VERSION}"
    script = folder / "mermaid.min.js"
    if script.is_file():
        return script, ""
    if shutil.which("npm") is None:
        return None, "npm is not installed"
    with tempfile.TemporaryDirectory() as scratch:
        try:
            done = subprocess.run(["npm", "pack", f"mermaid@{MERMAID_VERSION}", "--silent"],
                                  cwd=scratch, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, f"npm pack mermaid@{MERMAID_VERSION} took over {NPM_TIMEOUT_S} s"
        packed = Path(scratch) / f"mermaid-{MERMAID_VERSION}.tgz"
        if done.returncode != 0 or not packed.is_file():
            return None, f"npm pack mermaid@{MERMAID_VERSION} failed: {done.stderr.strip()[-300:]}"
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(packed) as archive:
            # The script last: its presence says the folder is complete.
            for member, name in (("package/LICENSE", "LICENSE"), ("package/dist/mermaid.min.js", script.name)):
                source = archive.extractfile(member)
                if source is None:
                    return None, f"the mermaid package has no {member}"
                partial = folder / (name + ".partial")
                partial.write_bytes(source.read())
                partial.replace(folder / name)      # whole or absent, never half a file
    return script, ""
