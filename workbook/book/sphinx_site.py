"""The course site's own Sphinx extension: diagrams, the download and launch buttons, the report.

* **Diagrams.** A ```` ```mermaid ```` block becomes ``<pre class="mermaid">`` and the page loads
  mermaid's browser bundle (a classic script, copied from the local cache): ES modules, which
  sphinxcontrib-mermaid loads, are refused by browsers on ``file://``, where the site must work too.
  Without the script the block stays readable as its source text.
* **Buttons.** The theme's download button would offer the page's source, which on an exercise
  page holds the solutions: it offers the file ``site.json`` names instead (the student's copy
  for an exercise, the executed notebook otherwise). A launch button opens the notebook in
  JupyterLab from a local clone (``make lab``), and on Binder or Codespaces when the site knows
  the repository.
* **Report.** ``site-report.json`` lists every page with its error outputs, images and diagrams.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx

REPORT = "site-report.json"
MERMAID_FILE = "mermaid.min.js"
# Run by every page with diagrams, after mermaid's script: the theme's dark mode gets mermaid's dark theme.
MERMAID_START = """
document.addEventListener("DOMContentLoaded", () => {
  const dark = document.documentElement.dataset.theme === "dark";
  mermaid.initialize({startOnLoad: false, theme: dark ? "dark" : "default", securityLevel: "strict"});
  mermaid.run({querySelector: "pre.mermaid"});
});
"""


class mermaid_diagram(nodes.General, nodes.Element):
    """A Mermaid diagram's source, drawn in the browser."""


class MermaidDirective(Directive):
    has_content = True

    def run(self):
        source = "\n".join(self.content)
        env = self.state.document.settings.env
        if env.config.workbook_mermaid_js:
            return [mermaid_diagram(source=source)]
        # No mermaid script (npm was not there): the diagram stays its readable source.
        block = nodes.literal_block(source, source, classes=["mermaid-source"])
        block["language"] = "none"
        return [block]


def visit_mermaid_html(self, node):
    self.body.append(f'<pre class="mermaid">{html.escape(node["source"])}</pre>\n')
    raise nodes.SkipNode


def skip_node(self, node):
    raise nodes.SkipNode


def page_report(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """What a reader would notice on a page, counted once its doctree is final."""
    errors = sum(1 for node in doctree.findall(nodes.Element)
                 if {"output", "traceback"} <= set(node.get("classes", [])))
    titles = list(doctree.findall(nodes.title))
    reports = app.env.__dict__.setdefault("workbook_pages", {})
    reports[docname] = {
        "docname": docname,
        "title": titles[0].astext() if titles else docname,
        "path": app.builder.get_target_uri(docname),
        "error_outputs": errors,
        "images": sum(1 for _ in doctree.findall(nodes.image)),
        "diagrams": sum(1 for _ in doctree.findall(mermaid_diagram)),
    }


def add_page_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if doctree is not None and app.config.workbook_mermaid_js and next(doctree.findall(mermaid_diagram), None):
        app.add_js_file(MERMAID_FILE, priority=900)
        app.add_js_file(None, body=MERMAID_START, priority=901)


def adjust_buttons(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """The download group offers the page's own download; a launch group is added (see module doc)."""
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    pathto = context["pathto"]
    download = app.config.workbook_downloads.get(pagename)
    for group in buttons:
        if group.get("label") != "download-buttons":
            continue
        kept = [b for b in group["buttons"] if b.get("label") == "download-pdf-button"]
        if download:
            kept.insert(0, {"type": "link", "url": pathto(download["file"], 1), "text": ".ipynb",
                            "icon": "fas fa-code", "tooltip": download["tooltip"],
                            "label": "download-notebook-button"})
        group["buttons"] = kept
    if download:
        buttons.append(launch_group(app.config.workbook_launch, download["notebook"]))


def launch_group(launch: dict, notebook: str) -> dict:
    """Where a reader can run the notebook: JupyterLab on their clone, Binder, Codespaces."""
    links = [{"type": "link", "text": "JupyterLab (your clone)",
              "url": launch["lab"].format(notebook=notebook),
              "tooltip": "Open it in the JupyterLab that `make lab` started on your machine",
              "icon": "fas fa-laptop-code", "label": "launch-lab-button"}]
    if launch.get("binder"):
        links.append({"type": "link", "text": "Binder", "url": launch["binder"].format(notebook=notebook),
                      "tooltip": "Launch on Binder", "icon": "_static/images/logo_binder.svg",
                      "label": "launch-binder-button"})
    if launch.get("codespaces"):
        links.append({"type": "link", "text": "Codespaces", "url": launch["codespaces"],
                      "tooltip": "Open the repository in a GitHub Codespace", "icon": "fab fa-github",
                      "label": "launch-codespaces-button"})
    return {"type": "group", "tooltip": "Run this notebook", "icon": "fas fa-rocket",
            "buttons": links, "label": "launch-buttons"}


def finish(app: Sphinx, error) -> None:
    if error is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    script = app.config.workbook_mermaid_js
    if script:
        (out / "_static").mkdir(exist_ok=True)
        shutil.copy2(script, out / "_static" / MERMAID_FILE)
        licence = Path(script).with_name("LICENSE")
        if licence.is_file():
            shutil.copy2(licence, out / "_static" / "mermaid.LICENSE.txt")
    pages = getattr(app.env, "workbook_pages", {})
    (out / REPORT).write_text(json.dumps({"pages": list(pages.values())}, indent=2), encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_config_value("workbook_mermaid_js", "", "html")
    app.add_config_value("workbook_downloads", {}, "html")
    app.add_config_value("workbook_launch", {"lab": "http://localhost:8888/lab/tree/{notebook}"}, "html")
    app.add_node(mermaid_diagram, html=(visit_mermaid_html, None), latex=(skip_node, None),
                 text=(skip_node, None), man=(skip_node, None), texinfo=(skip_node, None))
    app.add_directive("mermaid", MermaidDirective)
    app.connect("doctree-resolved", page_report)
    app.connect("html-page-context", add_page_scripts)
    app.connect("html-page-context", adjust_buttons, priority=600)
    app.connect("build-finished", finish)
    return {"parallel_read_safe": True, "parallel_write_safe": False, "version": "1"}
