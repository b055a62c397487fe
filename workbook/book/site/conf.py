"""Sphinx configuration of the course site (``python -m workbook book``).

``workbook.book.build`` copies this folder into the staged project (``_build/book/``) beside the
course's executed notebooks and writes ``site.json`` next to it: what differs from build to build
(the mermaid script found, the repository to launch from, the pages' downloads).
"""

import json
from pathlib import Path

SITE = json.loads((Path(__file__).with_name("site.json")).read_text(encoding="utf-8"))

project = SITE["title"]
author = SITE["author"]
copyright = SITE["copyright"]

extensions = ["myst_nb", "sphinx_design", "workbook.book.sphinx_site"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "site.json"]

# Publish the runs the notebook tests made: never execute here.
nb_execution_mode = "off"
# A widget's live view needs a kernel; its static fallback (text/html, text/plain) is what the page shows.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}             # myst-nb would load the widget manager from a CDN
nb_merge_streams = True           # one block per cell, not one per flush
nb_output_stderr = "show"

myst_enable_extensions = ["colon_fence", "dollarmath", "html_image", "deflist"]
myst_heading_anchors = 3
myst_fence_as_directive = ["mermaid"]

html_theme = "sphinx_book_theme"
html_title = SITE["title"]
html_static_path = ["_static"]
html_css_files = ["workbook.css"]
html_extra_path = ["downloads"]
# The pages' sources would include the exercises' solutions: downloads are the site's own (site.json).
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
# The summaries under search results are fetched pages, which a browser refuses on file://.
html_show_search_summary = False
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": bool(SITE["repository"]),
    "repository_url": SITE["repository"] or "",
    "repository_branch": SITE["branch"],
    "home_page_in_toc": True,
    "navigation_with_keys": False,
    "show_prev_next": True,
    # No requests to outside servers when a page opens (a classroom may be offline).
    "icon_links": [],
}
if not SITE["repository"]:
    del html_theme_options["repository_url"]

workbook_mermaid_js = SITE["mermaid_js"]
workbook_downloads = SITE["downloads"]
workbook_launch = SITE["launch"]
