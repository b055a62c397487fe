"""The course as a website: Sphinx with myst-nb and sphinx-book-theme, from the executed notebooks.

``python -m workbook book`` (``make book``) stages the landing page (``site/index.md``) and the
executed notebooks as a Sphinx project, runs Sphinx with warnings as errors and leaves the site in
``_build/html``. No Node.js: npm, when present, only fetches mermaid's browser script once.
"""
