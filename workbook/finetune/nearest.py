"""The fine-tuning data used without training: the labelled tickets nearest to a new one.

Fine-tuning is not the only way to use a few hundred labelled tickets. Two cheaper ones, given
the same file the fine-tune learns from (notebook 08 measures all three on the same tickets):

* put the tickets most like the new one into the prompt as solved examples (few-shot with
  *retrieved* examples, often called kNN few-shot);
* skip the model: route the new ticket to the team most of its nearest tickets went to.

"Nearest" is BM25 word overlap (``workbook.course.retrieval``): no embedding model, no download.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..course.retrieval import BM25
from .data import TRAIN_FILE, Example, data_path, read_examples


class NearestTickets:
    """An index over labelled tickets (``Example``s: the user turn is the ticket, the assistant
    turn its team)."""

    def __init__(self, examples: list[Example]):
        if not examples:
            raise ValueError("NearestTickets needs at least one labelled ticket")
        self.examples = list(examples)
        self._index = BM25([{"text": e.user, "team": e.assistant} for e in self.examples])

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> "NearestTickets":
        """The index over a chat-format file; the bundled training tickets by default."""
        return cls(read_examples(path or data_path(TRAIN_FILE)))

    def __len__(self) -> int:
        return len(self.examples)

    def nearest(self, ticket: str, k: int) -> list[tuple[str, str]]:
        """Up to ``k`` (ticket, team) pairs sharing words with ``ticket``, the most alike first."""
        return [(hit.doc["text"], hit.doc["team"]) for hit in self._index.search(ticket, k=k)]

    def vote(self, ticket: str, k: int) -> str | None:
        """The team most of the ``k`` nearest tickets belong to; a tie goes to the team of the
        nearest among the tied. ``None`` when no labelled ticket shares a word with it."""
        teams = [team for _, team in self.nearest(ticket, k)]
        if not teams:
            return None
        counts = Counter(teams)
        most = max(counts.values())
        return next(team for team in teams if counts[team] == most)
