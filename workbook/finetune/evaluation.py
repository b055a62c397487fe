"""How far to trust an accuracy measured on a few tickets, and a difference between two.

On 20 tickets one ticket is 5 points, so "85 % beats 75 %" may be two lucky tickets. Notebook 08
reports each accuracy with a 95 % interval and compares two strategies on the tickets where they
disagree -- the evidence a sceptical reader asks for before accepting a decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


def accuracy_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of ``correct`` out of ``total``. Unlike
    accuracy +- 2 standard errors it stays inside 0..1 and is not zero-width at 0 % or 100 %."""
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total > 0, got {correct} of {total}")
    share = correct / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Paired:
    """Two strategies graded on the same tickets."""

    only_first: int   # tickets the first routed right and the second wrong
    only_second: int  # and the other way round
    p_value: float    # two-sided exact sign test over those disagreements

    @property
    def disagreements(self) -> int:
        return self.only_first + self.only_second

    def clear(self, level: float = 0.05) -> bool:
        """Whether the difference is unlikely to be luck (p below ``level``)."""
        return self.p_value < level

    def first_clearly_better(self, level: float = 0.05) -> bool:
        """Whether the first clearly beat the second: unlikely to be luck, and in the first's favour."""
        return self.clear(level) and self.only_first > self.only_second


def paired(first: Sequence[bool], second: Sequence[bool]) -> Paired:
    """Compare two strategies ticket by ticket (McNemar's exact test, i.e. a sign test on
    the tickets where exactly one of them was right; ties carry no evidence either way)."""
    if len(first) != len(second):
        raise ValueError(f"graded on different tickets: {len(first)} vs {len(second)} results")
    only_first = sum(a and not b for a, b in zip(first, second))
    only_second = sum(b and not a for a, b in zip(first, second))
    n = only_first + only_second
    if n == 0:
        return Paired(0, 0, 1.0)
    tail = sum(math.comb(n, i) for i in range(min(only_first, only_second) + 1)) / 2 ** n
    return Paired(only_first, only_second, min(1.0, 2 * tail))
