"""A tiny retriever for the RAG examples: BM25 over a handful of documents, pure Python.

No embeddings model and no download: BM25 scores a document by how often it contains the
query's words, weighting rare words up and long documents down. For a small help-centre
that is a fair baseline (and what many production systems combine with embeddings).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be but by do does for from has have i if in into is it its me my no not "
    "of on or our so that the their them then there these this to was we were what when which "
    "who will with you your can how".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stopwords, with a crude plural strip."""
    words = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word)
    return words


@dataclass(frozen=True)
class Hit:
    doc: dict[str, Any]
    score: float


class BM25:
    """Okapi BM25 (k1=1.5, b=0.75) over ``docs``; each doc a dict with a ``text`` field."""

    def __init__(self, docs: Iterable[dict[str, Any]], *, k1: float = 1.5, b: float = 0.75,
                 field: str = "text"):
        self.docs = list(docs)
        if not self.docs:
            raise ValueError("BM25 needs at least one document")
        self.k1, self.b, self.field = k1, b, field
        self._terms = [Counter(tokenize(self._text(d))) for d in self.docs]
        self._lengths = [sum(t.values()) for t in self._terms]
        self.avg_length = sum(self._lengths) / len(self._lengths)
        frequency = Counter(term for terms in self._terms for term in terms)
        n = len(self.docs)
        self.idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}

    def _text(self, doc: dict[str, Any]) -> str:
        return " ".join(str(doc.get(k, "")) for k in ("title", self.field))

    def scores(self, query: str) -> list[float]:
        words = tokenize(query)
        result = []
        for terms, length in zip(self._terms, self._lengths):
            score = 0.0
            for word in words:
                tf = terms.get(word, 0)
                if tf:
                    norm = tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * length / self.avg_length))
                    score += self.idf[word] * norm
            result.append(score)
        return result

    def search(self, query: str, k: int = 2) -> list[Hit]:
        """The ``k`` best documents with a score above zero, best first."""
        ranked = sorted(zip(self.docs, self.scores(query)), key=lambda pair: -pair[1])
        return [Hit(doc, score) for doc, score in ranked[:k] if score > 0]
