"""The course site (``make book`` → ``_build/html``) read in a real browser, page by page.

Headless Chromium starts on the landing page, follows the table of contents through every page
and checks what a reader would notice: a page that does not load, an error printed by a cell, a
plot that does not appear, a link inside the site that leads nowhere, a solution shown open,
search that finds nothing, a script error. ``make test`` builds the site first (from the
notebooks its own tests executed) and runs this afterwards (marker ``site``); run alone, the
fixture builds the site when there is none.
"""

from __future__ import annotations

import functools
import os
import http.server
import re
import threading
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from workbook.book.build import build_site, is_solution_cell
from workbook.course.notebooks import course_notebooks, solution_of

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
NOTEBOOKS = course_notebooks(ROOT / "notebooks")

pytestmark = [pytest.mark.site, pytest.mark.browser]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "site-report.json").exists():
        build_site()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def reader(browser):
    context = browser.new_context()
    page = context.new_page()
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    yield page
    context.close()


def first_heading(path: Path) -> str:
    """The notebook's title as a page shows it: Markdown marks (`code`, *emphasis*) rendered away."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"[`*_]", "", line[2:]).strip()
    return path.stem


def ids_on(html: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html))


def test_every_page_loads_with_outputs_images_and_working_links(reader, site_url):
    reader.goto(site_url + "index.html")
    readme_title = (ROOT / "README.md").read_text().splitlines()[0].removeprefix("# ").strip()
    assert reader.locator("article h1").first.inner_text().strip() == readme_title, \
        "the landing page is not the README"

    toc = reader.eval_on_selector_all("nav.toc a", "links => links.map(a => [a.textContent, a.href])")
    titles = [title for title, _ in toc]
    expected = [first_heading(path) for path in NOTEBOOKS]
    assert titles[1:] == expected, f"the contents are not the notebooks in course order:\n{titles}"

    internal_links: set[str] = set()
    images = diagrams_drawn = 0
    for title, url in toc:
        response = reader.goto(url)
        assert response is not None and response.ok, f"{title}: {url} did not load"
        errors = reader.locator(".output.error").all_inner_texts()
        assert not errors, f"{title} shows an error output:\n{errors[0][:800]}"
        broken = reader.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert not broken, f"{title}: images that did not load: {broken}"
        images += reader.locator("img").count()
        diagrams = reader.locator("pre.mermaid")
        if diagrams.count():
            assert (SITE / "mermaid.min.js").exists() or os.environ.get("CI", "").lower() != "true", \
                "the site has diagrams but no mermaid.min.js (the build could not fetch it with npm)"
            if (SITE / "mermaid.min.js").exists():
                reader.wait_for_function(
                    "() => [...document.querySelectorAll('pre.mermaid')].every(d => d.querySelector('svg'))",
                    timeout=15_000)
                diagrams_drawn += diagrams.count()
        hrefs = reader.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        internal_links.update(h for h in hrefs if h.startswith(site_url))
    assert images >= 2, f"the course's plots are missing from the site ({images} images in all)"
    assert diagrams_drawn or not (SITE / "mermaid.min.js").exists(), "no diagram was drawn"
    assert not reader.script_errors, f"script errors: {reader.script_errors}"

    pages: dict[str, str] = {}
    broken_links = []
    for link in sorted(internal_links):
        target, _, fragment = link.partition("#")
        if target not in pages:
            reply = reader.request.get(target)
            pages[target] = reply.text() if reply.ok and target.endswith((".html", "/")) else (
                "" if reply.ok else None)
        if pages[target] is None:
            broken_links.append(f"{link} (not found)")
        elif fragment and urllib.parse.unquote(fragment) not in ids_on(pages[target]):
            broken_links.append(f"{link} (no #{fragment} on the page)")
    assert len(internal_links) > len(toc), "the site has hardly any links: was the table of contents rendered?"
    assert not broken_links, "broken links inside the site:\n" + "\n".join(broken_links)


@pytest.mark.parametrize("exercise", [p for p in NOTEBOOKS if solution_of(p)], ids=lambda p: p.stem)
def test_an_exercise_page_folds_its_solutions(reader, site_url, exercise):
    reader.goto(site_url + "index.html")
    reader.get_by_role("link", name=first_heading(exercise), exact=True).click()
    solutions = reader.locator("details.solution")
    assert solutions.count() >= 1, f"{exercise.name}: no solution dropdown on its page"
    first = solutions.first
    assert first.get_attribute("open") is None, "a solution is shown open: a reader should choose to see it"
    assert not first.locator("pre").first.is_visible(), "the solution's code shows before it is opened"
    first.locator("summary").click()
    assert first.locator("pre").first.is_visible(), "opening the Solution dropdown does not show the code"
    student = nbformat.read(exercise, as_version=4)
    solved = nbformat.read(solution_of(exercise), as_version=4)
    starting = next(mine.source for mine, theirs in zip(student.cells, solved.cells)
                    if is_solution_cell(mine, theirs))
    first_line = next(line.strip() for line in starting.splitlines() if line.strip())
    assert first_line in reader.locator("article").inner_text(), \
        f"{exercise.name}: the student's starting code is not on the page ({first_line!r})"


def test_search_finds_a_topic_and_leads_to_it(reader, site_url):
    reader.goto(site_url + "index.html")
    reader.get_by_role("searchbox", name="Search the course").fill("Bedrock")
    reader.keyboard.press("Enter")
    reader.wait_for_url(re.compile(r"/search/index\.html\?q=Bedrock"))
    results = reader.locator("#search-results li a")
    assert results.count() >= 3, f"search for Bedrock found {results.count()} places"
    assert "Bedrock" in reader.locator("#search-status").inner_text()
    results.first.click()
    assert "Bedrock" in reader.locator("article").inner_text(), "the first search result does not mention Bedrock"

    reader.goto(site_url + "search/index.html?q=zzqxnotaword")
    assert "Nothing in the course mentions" in reader.locator("#search-status").inner_text()
    assert not reader.script_errors, f"script errors: {reader.script_errors}"
