"""Code colouring for the course site, done once at build time with Pygments (no script on the page)."""

from __future__ import annotations

import html
from functools import lru_cache

STYLE = "friendly"


def highlight(source: str, lang: str) -> str:
    from pygments import highlight as pygmentize
    from pygments.formatters import HtmlFormatter

    lexer = _lexer(lang)
    if lexer is None:
        return f'<pre class="highlight"><code>{html.escape(source)}</code></pre>'
    return pygmentize(source, lexer, HtmlFormatter(cssclass="highlight", nowrap=False))


@lru_cache(maxsize=None)
def _lexer(lang: str):
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    if not lang:
        return None
    try:
        return get_lexer_by_name({"ipython": "python", "ipython3": "python"}.get(lang, lang))
    except ClassNotFound:
        return None


def stylesheet() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style=STYLE).get_style_defs(".highlight")
