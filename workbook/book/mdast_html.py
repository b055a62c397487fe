"""MyST's document tree (mdast, as Jupyter Book 2 writes it to ``_build/site/content``) as HTML.

One function per node type, looked up in ``RENDERERS``; a node type without one is rendered
through its children and recorded in ``Page.unknown`` so the site build can say which types it
met (the site test requires none). Notebook outputs come first in the order a reader wants
them: parsed Markdown, an image, HTML, then plain text; widgets, which need a kernel, say so.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Callable

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/svg+xml", "image/png", "image/jpeg", "image/gif")


@dataclass
class Page:
    """What rendering one page needs from the site, and what it found there."""

    asset: Callable[[str], str]        # content-server path of a file -> its URL in the site
    page_url: Callable[[str], str]     # "/slug#id" of a page in the project -> its URL in the site
    text_of: Callable[[str], str]      # content-server path of a large output -> its text
    unknown: set[str] = field(default_factory=set)
    error_outputs: int = 0
    images: int = 0
    diagrams: int = 0
    solutions: int = 0


def render(node: dict, page: Page) -> str:
    renderer = RENDERERS.get(node.get("type", ""))
    if renderer is None:
        page.unknown.add(str(node.get("type")))
        return children(node, page)
    return renderer(node, page)


def children(node: dict, page: Page) -> str:
    return "".join(render(child, page) for child in node.get("children") or [])


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def tag(name: str, inner: str, **attributes: object) -> str:
    attrs = "".join(f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"'
                    for key, value in attributes.items() if value not in (None, False, ""))
    return f"<{name}{attrs}>{inner}</{name}>"


def wrap(name: str) -> Callable[[dict, Page], str]:
    return lambda node, page: tag(name, children(node, page))


# -- text and blocks ---------------------------------------------------------------------------
def heading(node: dict, page: Page) -> str:
    depth = min(max(int(node.get("depth", 2)), 1), 6)
    anchor = node.get("html_id") or node.get("identifier")
    inner = children(node, page)
    if anchor:
        inner += f' <a class="anchor" href="#{escape(anchor)}" aria-label="link to this section">#</a>'
    return tag(f"h{depth}", inner, id=anchor)


def list_(node: dict, page: Page) -> str:
    name = "ol" if node.get("ordered") else "ul"
    start = node.get("start")
    return tag(name, children(node, page), start=start if name == "ol" and start not in (None, 1) else None)


def list_item(node: dict, page: Page) -> str:
    # A tight list's items hold bare text: no paragraph around it.
    return tag("li", children(node, page))


def table(node: dict, page: Page) -> str:
    return f'<div class="table-wrap">{tag("table", children(node, page))}</div>'


def table_cell(node: dict, page: Page) -> str:
    name = "th" if node.get("header") else "td"
    align = node.get("align")
    return tag(name, children(node, page), style=f"text-align:{align}" if align else None)


def link(node: dict, page: Page) -> str:
    url = str(node.get("url", ""))
    if node.get("type") == "crossReference":
        # A reference names its target's id; the url, when present, is the target's page.
        target = f'#{node.get("html_id") or node.get("identifier", "")}'
        href = page.page_url(url + target) if url else target
        return tag("a", children(node, page), href=href, class_="internal")
    if node.get("internal"):
        return tag("a", children(node, page), href=page.page_url(url), class_="internal")
    if node.get("static"):
        return tag("a", children(node, page), href=page.asset(url), download="")
    return tag("a", children(node, page), href=url, class_="external", rel="noopener")


def image(node: dict, page: Page) -> str:
    page.images += 1
    url = str(node.get("url", ""))
    src = url if url.startswith(("http://", "https://", "data:")) else page.asset(url)
    return f'<img src="{escape(src)}" alt="{escape(node.get("alt", ""))}">'


def code(node: dict, page: Page) -> str:
    from .highlight import highlight

    lang = str(node.get("lang") or "")
    body = highlight(str(node.get("value", "")), lang)
    kind = "cell-code" if node.get("executable") else "code-block"
    label = f'<span class="lang">{escape(lang)}</span>' if lang and not node.get("executable") else ""
    return f'<div class="{kind}">{label}{body}</div>'


def mermaid(node: dict, page: Page) -> str:
    # Drawn in the browser by mermaid.js when the site ships it; the source stays readable without.
    page.diagrams += 1
    return f'<pre class="mermaid">{escape(node.get("value", ""))}</pre>'


def math(node: dict, page: Page) -> str:
    return f'<div class="math">{escape(node.get("value", ""))}</div>'


def admonition(node: dict, page: Page) -> str:
    kind = str(node.get("kind") or "note")
    return f'<aside class="admonition {escape(kind)}">{children(node, page)}</aside>'


def details(node: dict, page: Page) -> str:
    if "solution" in str(node.get("class") or "").split():
        page.solutions += 1
    return tag("details", children(node, page), open=bool(node.get("open")), class_=node.get("class"))


def block(node: dict, page: Page) -> str:
    kind = str(node.get("kind") or "")
    css = "cell " + ("cell-" + kind.removeprefix("notebook-") if kind else "block")
    return f'<section class="{escape(css)}">{children(node, page)}</section>'


def raw_html(node: dict, page: Page) -> str:
    return str(node.get("value", ""))     # the course's own notebooks: trusted


# -- notebook outputs -----------------------------------------------------------------------------
def outputs(node: dict, page: Page) -> str:
    inner = children(node, page)
    return f'<div class="outputs">{inner}</div>' if inner else ""


def output(node: dict, page: Page) -> str:
    data = node.get("jupyter_data") or {}
    kind = data.get("output_type")
    if kind == "stream":
        text = ANSI_ESCAPE.sub("", _text(data.get("text", "")))
        return f'<pre class="output stream {escape(data.get("name", "stdout"))}">{escape(text)}</pre>'
    if kind == "error":
        page.error_outputs += 1
        trace = ANSI_ESCAPE.sub("", "\n".join(data.get("traceback") or [f'{data.get("ename")}: {data.get("evalue")}']))
        return f'<pre class="output error">{escape(trace)}</pre>'
    if node.get("children"):          # text/markdown output: already parsed by MyST
        return f'<div class="output markdown">{children(node, page)}</div>'
    bundle = data.get("data") or {}
    if WIDGET_MIME in bundle:
        return ('<div class="output widget">An interactive widget is here: open this notebook in '
                'JupyterLab (<code>make lab</code>) to use it.</div>')
    for mime in IMAGE_MIMES:
        if mime in bundle:
            page.images += 1
            return f'<div class="output image"><img src="{escape(page.asset(bundle[mime]["path"]))}" alt="a figure the cell drew"></div>'
    if "text/html" in bundle:
        return f'<div class="output html">{_content(bundle["text/html"], page)}</div>'
    if "text/plain" in bundle:
        text = ANSI_ESCAPE.sub("", _content(bundle["text/plain"], page))
        return f'<pre class="output text">{escape(text)}</pre>'
    return ""


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _content(entry: dict, page: Page) -> str:
    """An output's text is inline (``content``) or, when large, a file on the content server."""
    if "content" in entry:
        return _text(entry["content"])
    return page.text_of(entry["path"]) if entry.get("path") else ""


def comment(node: dict, page: Page) -> str:
    return ""


def text(node: dict, page: Page) -> str:
    return escape(node.get("value", ""))


def inline_code(node: dict, page: Page) -> str:
    return tag("code", escape(node.get("value", "")))


RENDERERS: dict[str, Callable[[dict, Page], str]] = {
    "root": children,
    "block": block,
    "paragraph": wrap("p"),
    "heading": heading,
    "text": text,
    "strong": wrap("strong"),
    "emphasis": wrap("em"),
    "delete": wrap("del"),
    "underline": wrap("u"),
    "subscript": wrap("sub"),
    "superscript": wrap("sup"),
    "smallcaps": wrap("span"),
    "abbreviation": lambda node, page: tag("abbr", children(node, page), title=node.get("title")),
    "inlineCode": inline_code,
    "break": lambda node, page: "<br>",
    "thematicBreak": lambda node, page: "<hr>",
    "blockquote": wrap("blockquote"),
    "list": list_,
    "listItem": list_item,
    "table": table,
    "tableRow": wrap("tr"),
    "tableCell": table_cell,
    "link": link,
    "crossReference": link,
    "image": image,
    "code": code,
    "mermaid": mermaid,
    "math": math,
    "inlineMath": lambda node, page: tag("code", escape(node.get("value", "")), class_="math"),
    "admonition": admonition,
    "admonitionTitle": lambda node, page: tag("p", children(node, page), class_="admonition-title"),
    "details": details,
    "summary": wrap("summary"),
    "container": wrap("figure"),
    "caption": wrap("figcaption"),
    "legend": wrap("div"),
    "div": wrap("div"),
    "span": wrap("span"),
    "html": raw_html,
    "outputs": outputs,
    "output": output,
    "comment": comment,
}


def dumps_for_script(value: object) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")
