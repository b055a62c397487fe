"""The course site's renderer: the ``render`` command of the project's MyST site template.

Jupyter Book 2 (the MyST engine) reads the project, resolves references and notebook outputs,
and serves the result as JSON on a local content server; a site template either runs a web
app that the engine crawls, or, like this one, declares ``build.render`` and writes the HTML
itself (``BUILD_DIRECTORY``, from ``CONTENT_CDN``). Everything here is read from that server:
the configuration, each page's tree, images and downloads, the search index.

The site works from any folder and from ``file://``: every link is relative and names its
``index.html``, and search needs no server (its index is a script, not a fetched JSON file).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .highlight import stylesheet
from .mdast_html import Page, dumps_for_script, escape, render

THEME_PUBLIC = Path(__file__).resolve().parent / "theme" / "public"
REPORT = "site-report.json"
# Set by the site build (workbook.book.build) to mermaid's cached browser script.
MERMAID_VARIABLE = "WORKBOOK_MERMAID_JS"


@dataclass
class Entry:
    """One page of the table of contents."""

    slug: str               # "index" for the landing page
    title: str
    level: int

    def path(self) -> str:
        return page_path(self.slug)

    def root(self) -> str:
        """The way from this page back to the site's root folder."""
        return "" if self.slug == "index" else "../" * (self.slug.count("/") + 1)


def page_path(url: str, project_index: str = "index") -> str:
    """Where the page at MyST's ``/slug#id`` is in the site, from its root."""
    target, _, fragment = url.partition("#")
    slug = target.strip("/")
    path = "index.html" if slug in ("", "index", project_index) else f"{slug}/index.html"
    return path + (f"#{fragment}" if fragment else "")


class ContentServer:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def get(self, path: str) -> bytes:
        url = self.base + "/" + urllib.parse.quote(path.lstrip("/"))
        with urllib.request.urlopen(url, timeout=30) as reply:     # loopback, the engine's own server
            return reply.read()

    def json(self, path: str) -> dict:
        return json.loads(self.get(path))


def table_of_contents(config: dict, server: ContentServer) -> tuple[str, list[Entry]]:
    project = config["projects"][0]
    index = server.json(f"/content/{project['index']}.json")
    entries = [Entry("index", index["frontmatter"].get("title") or project.get("title", "Home"), 0)]
    entries += [Entry(page["slug"], page.get("title") or page["slug"], int(page.get("level", 1)))
                for page in project.get("pages", []) if page.get("slug")]
    return project.get("title") or config.get("title") or "Course", entries


def build(server: ContentServer, out: Path, mermaid: Path | None = None) -> dict:
    """Write the site into ``out``; ``mermaid`` is mermaid's browser script, when there is one."""
    config = server.json("/config.json")
    site_title, entries = table_of_contents(config, server)
    project_index = config["projects"][0]["index"]
    out.mkdir(parents=True, exist_ok=True)
    assets: set[str] = set()
    report: dict = {"title": site_title, "pages": []}

    for position, entry in enumerate(entries):
        content = server.json(f"/content/{project_index if entry.slug == 'index' else entry.slug}.json")
        root = entry.root()

        def asset(path: str, root: str = root) -> str:
            name = path.lstrip("/")
            assets.add(name)
            return f"{root}build/{name}"

        def page_url(url: str, root: str = root) -> str:
            return root + page_path(url, project_index)

        page = Page(asset=asset, page_url=page_url,
                    text_of=lambda path: server.get(path).decode("utf-8", "replace"))
        body = render(content["mdast"], page)
        # An exercise's page holds its solutions: its notebook is the student's, in the repository.
        downloads = [] if page.solutions else [
            asset(export["url"]) for export in content["frontmatter"].get("exports", [])
            if export.get("format") == "ipynb" and export.get("url")]
        scripts = ["mermaid.min.js"] if page.diagrams and mermaid else []
        html = layout(site_title, entries, position, body, downloads, scripts=scripts)
        target = out / entry.path()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        report["pages"].append({"slug": entry.slug, "title": entry.title, "path": entry.path(),
                                "error_outputs": page.error_outputs, "images": page.images,
                                "diagrams": page.diagrams,
                                "unknown_node_types": sorted(page.unknown)})

    for name in sorted(assets):
        target = out / "build" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(server.get("/" + name))
    write_search(server, out, project_index, site_title)
    shutil.copytree(THEME_PUBLIC, out, dirs_exist_ok=True)
    if mermaid and any(page["diagrams"] for page in report["pages"]):
        shutil.copy2(mermaid, out / "mermaid.min.js")
        shutil.copy2(mermaid.parent / "LICENSE", out / "mermaid.LICENSE.txt")
    (out / "highlight.css").write_text(stylesheet(), encoding="utf-8")
    (out / REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def write_search(server: ContentServer, out: Path, project_index: str, site_title: str) -> None:
    """MyST's search records, with each record's page turned into a site-relative link."""
    raw = server.get("/myst.search.json")
    (out / "myst.search.json").write_bytes(raw)
    records = []
    for record in json.loads(raw).get("records", []):
        records.append({"url": page_path(str(record.get("url", "")), project_index),
                        "title": " › ".join(str(v) for _, v in sorted(record.get("hierarchy", {}).items()) if v),
                        "content": record.get("content", "")})
    (out / "search-index.js").write_text(f"window.WORKBOOK_SEARCH = {dumps_for_script(records)};\n",
                                         encoding="utf-8")
    search = Entry("search", "Search", 0)
    body = ('<h1>Search</h1><p id="search-status">Type words to look for in the search box above.</p>'
            '<ol id="search-results"></ol>'
            f'<script src="{search.root()}search-index.js"></script>')
    (out / "search").mkdir(exist_ok=True)
    (out / "search" / "index.html").write_text(
        layout(site_title, [search], 0, body, [], show_toc=False), encoding="utf-8")


def layout(site_title: str, entries: list[Entry], position: int, body: str, downloads: list[str], *,
           show_toc: bool = True, scripts: list[str] = ()) -> str:
    entry = entries[position]
    root = entry.root()
    toc = "".join(
        f'<li class="level-{other.level}{" current" if i == position else ""}">'
        f'<a href="{root}{other.path()}"{" aria-current=page" if i == position else ""}>{escape(other.title)}</a></li>'
        for i, other in enumerate(entries)) if show_toc else ""
    pager = ""
    if show_toc:
        previous = entries[position - 1] if position > 0 else None
        following = entries[position + 1] if position + 1 < len(entries) else None
        pager = '<nav class="pager">' + (
            f'<a class="previous" href="{root}{previous.path()}">← {escape(previous.title)}</a>' if previous else "<span></span>"
        ) + (f'<a class="next" href="{root}{following.path()}">{escape(following.title)} →</a>' if following else "") + "</nav>"
    download = "".join(f'<p class="download"><a href="{escape(url)}" download>Download this notebook, '
                       "with its outputs (.ipynb)</a></p>" for url in downloads)
    heading = f"<h1>{escape(entry.title)}</h1>" if show_toc else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(entry.title)} · {escape(site_title)}</title>
<link rel="stylesheet" href="{root}workbook-site.css"><link rel="stylesheet" href="{root}highlight.css">
</head><body>
<header class="site-header"><a class="site-title" href="{root}index.html">{escape(site_title)}</a>
<form class="search" action="{root}search/index.html" method="get" role="search">
<input type="search" name="q" placeholder="Search the course" aria-label="Search the course"></form></header>
<div class="layout">{f'<nav class="toc" aria-label="Contents"><ol>{toc}</ol></nav>' if toc else ""}
<main><article>{heading}{download}{body}</article>{pager}</main></div>
{"".join(f'<script src="{root}{name}"></script>' for name in scripts)}<script src="{root}site.js"></script>
</body></html>
"""


def main() -> int:
    out = Path(os.environ["BUILD_DIRECTORY"])
    mermaid = os.environ.get(MERMAID_VARIABLE)
    report = build(ContentServer(os.environ["CONTENT_CDN"]), out, Path(mermaid) if mermaid else None)
    unknown = sorted({t for page in report["pages"] for t in page["unknown_node_types"]})
    print(f"rendered {len(report['pages'])} pages into {out}"
          + (f"; node types shown through their text only: {', '.join(unknown)}" if unknown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
