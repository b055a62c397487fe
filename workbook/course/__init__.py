"""Helpers only the notebooks use: run modes (``backends``), the quiz, the cost model,
retrieval for the RAG lesson and answer grading. The provider library (``workbook.ai``)
never imports them."""
