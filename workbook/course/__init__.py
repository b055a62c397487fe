"""Helpers only the notebooks use: run modes (``backends``), the quiz, the cost model,
retrieval for the RAG lesson, evaluations, and the pull request's evidence file. The
provider library (``workbook.ai``) never imports them."""
