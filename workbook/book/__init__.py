"""The course as a website: Jupyter Book 2 (MyST) with the project's own site template.

``python -m workbook book`` (``make book``) stages the README and the executed notebooks as a
MyST project, runs ``jupyter book build --html`` and leaves the site in ``_build/html``.
"""
