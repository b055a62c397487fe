"""The course site (``make book`` → ``_build/html``) read in a real browser, page by page.

Headless Chromium starts on the landing page, follows the table of contents through every page
and checks what a reader would notice: a page that does not load, an error printed by a cell, a
plot that does not appear, a diagram not drawn, a link inside the site that leads nowhere, a quiz
that needs a kernel to be read, a solution shown open, search that finds nothing (served over
HTTP and opened from disk), a script error. ``make test`` builds the site first (from the
notebooks its own tests executed) and runs this afterwards (marker ``site``); run alone, the
fixture builds the site when there is none.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from workbook.book.build import WIDGET_NOTE, build_site, is_solution_cell
from workbook.course import quiz
from workbook.course.notebooks import course_notebooks, solution_of

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
NOTEBOOKS = course_notebooks(ROOT / "notebooks")
EXERCISES = [p for p in NOTEBOOKS if solution_of(p)]

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
    page.on("pageerror", lambda error: page.script_errors.append(f"{page.url}: {error}"))
    yield page
    context.close()


def ids_on(html: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html))


def diagrams_can_be_drawn() -> bool:
    present = (SITE / "_static" / "mermaid.min.js").exists()
    assert present or os.environ.get("CI", "").lower() != "true", \
        "the site has no mermaid.min.js in CI (the build could not fetch it with npm)"
    return present


def test_every_page_loads_with_outputs_images_diagrams_and_working_links(reader, site_url):
    reader.goto(site_url + "index.html")
    landing = reader.locator("article").inner_text()
    assert reader.locator("article h1").first.inner_text().strip() == "Working with Models"
    assert "How to start" in landing and "What it costs" in landing, "the landing page is not the students' one"
    assert "make test" not in landing, "the landing page shows developers' commands"

    toc = reader.eval_on_selector_all("nav.bd-docs-nav a.reference.internal",
                                      "links => links.map(a => [a.textContent.trim(), a.href.split('#')[0]])")
    pages = [url for _, url in toc]
    expected = [f"{site_url}notebooks/{path.stem}.html" for path in NOTEBOOKS]
    assert [url for url in pages if "/notebooks/" in url] == expected, \
        f"the contents are not the notebooks in course order:\n{[title for title, _ in toc]}"

    internal_links: set[str] = set()
    images = diagrams_drawn = 0
    drawable = diagrams_can_be_drawn()
    for title, url in toc:
        response = reader.goto(url)
        assert response is not None and response.ok, f"{title}: {url} did not load"
        errors = reader.locator(".cell_output .output.traceback").all_inner_texts()
        assert not errors, f"{title} shows an error output:\n{errors[0][:800]}"
        broken = reader.eval_on_selector_all(
            "article img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert not broken, f"{title}: images that did not load: {broken}"
        images += reader.locator("article img").count()
        cut = reader.eval_on_selector_all("article pre", """blocks => blocks.filter(b => {
            const style = getComputedStyle(b);
            const wraps = style.whiteSpace.startsWith("pre-wrap") || style.whiteSpace === "normal";
            const scrolls = ["auto", "scroll"].includes(style.overflowX);
            return b.scrollWidth > b.clientWidth + 1 && !wraps && !scrolls;
        }).map(b => b.textContent.slice(0, 80))""")
        assert not cut, f"{title}: code cut at the page's edge (neither wrapping nor scrolling): {cut}"
        diagrams = reader.locator("pre.mermaid")
        if diagrams.count() and drawable:
            reader.wait_for_function(
                "() => [...document.querySelectorAll('pre.mermaid')].every(d => d.querySelector('svg'))",
                timeout=15_000)
            diagrams_drawn += diagrams.count()
        hrefs = reader.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        internal_links.update(h for h in hrefs if h.startswith(site_url))
    assert images >= 2, f"the course's plots are missing from the site ({images} images in all)"
    assert diagrams_drawn or not drawable, "no diagram was drawn"
    assert not reader.script_errors, f"script errors: {reader.script_errors}"

    fetched: dict[str, str | None] = {}
    broken_links = []
    for link in sorted(internal_links):
        target, _, fragment = link.partition("#")
        if target not in fetched:
            reply = reader.request.get(target)
            fetched[target] = (reply.text() if target.endswith(".html") else "") if reply.ok else None
        if fetched[target] is None:
            broken_links.append(f"{link} (not found)")
        elif fragment and target.endswith(".html") and urllib.parse.unquote(fragment) not in ids_on(fetched[target]):
            broken_links.append(f"{link} (no #{fragment} on the page)")
    assert len(internal_links) > len(toc), "the site has hardly any links: was the table of contents rendered?"
    assert not broken_links, "broken links inside the site:\n" + "\n".join(broken_links)


def as_read(text: str) -> str:
    """A quiz text as a reader sees it: its `code` and *emphasis* marks rendered away (written
    here, not taken from the quiz's own renderer, so a renderer that drops text fails)."""
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\1", text.replace("`", ""))


def test_the_quiz_is_readable_without_a_kernel_with_its_answers_folded(reader, site_url):
    reader.goto(site_url + "notebooks/quiz.html")
    article = reader.locator("article")
    questions = article.locator(".workbook-quiz .quiz-question")
    assert questions.count() == len(quiz.QUESTIONS), \
        f"the quiz page shows {questions.count()} of {len(quiz.QUESTIONS)} questions"
    text = article.inner_text()
    for item in quiz.QUESTIONS:
        assert as_read(item.prompt) in text, f"question {item.id!r} is not readable on the page"
        assert all(as_read(option.text) in text for option in item.options), f"{item.id!r}: an option is missing"
    assert WIDGET_NOTE not in text, "the quiz page still says to open JupyterLab"
    first = questions.first.locator("details.quiz-answer")
    assert first.get_attribute("open") is None, "an answer is shown before the reader asks for it"
    explanation = quiz.QUESTIONS[0].answer.feedback.split(".")[0]
    assert not first.get_by_text(explanation, exact=False).is_visible()
    first.locator("summary").click()
    assert first.get_by_text(explanation, exact=False).is_visible(), "opening the answer shows no explanation"


def test_widgets_show_what_they_showed(reader, site_url):
    reader.goto(site_url + "notebooks/00_start_here.html")
    snapshots = reader.locator(".workbook-widget-static")
    assert snapshots.count() >= 3, "notebook 00's picker, chat panel and race have no static view"
    assert "Provider" in snapshots.first.inner_text(), "the picker's snapshot does not show the provider"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda p: p.stem)
def test_an_exercise_page_folds_its_solutions_and_offers_the_students_copy(reader, site_url, exercise):
    reader.goto(f"{site_url}notebooks/{exercise.stem}.html")
    solutions = reader.locator(".tag_solution details")
    assert solutions.count() >= 1, f"{exercise.name}: no folded solution on its page"
    for index in range(solutions.count()):
        assert solutions.nth(index).get_attribute("open") is None, "a solution is shown open"
    first = solutions.first
    assert not first.locator("pre").first.is_visible(), "the solution's code shows before it is opened"
    first.locator("summary").click()
    assert first.locator("pre").first.is_visible(), "opening the Solution fold does not show the code"

    outputs = reader.locator(".tag_solution-output details")
    assert outputs.count() >= 1, "the checker's output (run with the solution) is not folded"
    assert all(outputs.nth(i).get_attribute("open") is None for i in range(outputs.count()))

    student = nbformat.read(exercise, as_version=4)
    solved = nbformat.read(solution_of(exercise), as_version=4)
    starting = next(mine.source for mine, theirs in zip(student.cells, solved.cells)
                    if is_solution_cell(mine, theirs))
    first_line = next(line.strip() for line in starting.splitlines() if line.strip())
    assert first_line in reader.locator("article").inner_text(), \
        f"{exercise.name}: the student's starting code is not on the page ({first_line!r})"

    download = reader.locator("a.btn[href$='.ipynb']").first.get_attribute("href")
    offered = nbformat.reads(reader.request.get(urllib.parse.urljoin(reader.url, download)).text(), as_version=4)
    assert [c.source for c in offered.cells] == [c.source for c in student.cells], \
        "the exercise's download is not the student's copy"


@pytest.mark.parametrize("opened_from", ["http", "file"])
def test_search_finds_a_topic_and_leads_to_it(reader, site_url, opened_from):
    base = site_url if opened_from == "http" else SITE.as_uri() + "/"
    reader.goto(base + "index.html")
    reader.locator(".bd-sidebar-primary button.search-button-field").click()     # opens the search dialog
    box = reader.locator("#pst-search-dialog input[name='q']")
    box.fill("Bedrock")
    box.press("Enter")
    reader.wait_for_url(re.compile(r"search\.html\?q=Bedrock"))
    results = reader.locator("#search-results ul.search li a")
    # Sphinx adds the results one by one and then says so: click once the list stands still.
    reader.locator("#search-results .search-summary", has_text="Search finished").wait_for(timeout=30_000)
    assert results.count() >= 3, f"search for Bedrock found {results.count()} pages"
    first = results.first.get_attribute("href")
    results.first.click()
    reader.wait_for_url(re.compile(re.escape(first.split("?")[0].split("#")[0])))
    assert "Bedrock" in reader.locator("article").inner_text(), "the first search result does not mention Bedrock"
    assert not reader.script_errors, f"script errors: {reader.script_errors}"
