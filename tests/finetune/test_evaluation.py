"""How far a small test set can be trusted: Wilson intervals and the paired sign test."""

import pytest

from workbook.finetune.evaluation import accuracy_interval, paired


def test_wilson_interval_matches_the_textbook_figures():
    # 17 of 20 at 95 %: the two p with (0.85 - p)**2 == 1.96**2 * p * (1 - p) / 20, Wilson's definition.
    low, high = accuracy_interval(17, 20)
    assert low == pytest.approx(0.6396, abs=5e-4) and high == pytest.approx(0.9476, abs=5e-4)


def test_the_interval_is_never_zero_wide_nor_outside_0_1():
    assert accuracy_interval(20, 20)[1] == 1.0 and accuracy_interval(20, 20)[0] < 0.9
    assert accuracy_interval(0, 20)[0] == 0.0 and accuracy_interval(0, 20)[1] > 0.1
    narrow, wide = accuracy_interval(850, 1000), accuracy_interval(17, 20)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 4, "more tickets, a narrower interval"


@pytest.mark.parametrize("correct,total", [(3, 0), (-1, 5), (6, 5)])
def test_impossible_counts_are_refused(correct, total):
    with pytest.raises(ValueError):
        accuracy_interval(correct, total)


def test_paired_counts_only_the_tickets_where_exactly_one_was_right():
    first = [True, True, True, False, False, True]
    second = [True, False, False, True, False, True]
    result = paired(first, second)
    assert (result.only_first, result.only_second, result.disagreements) == (2, 1, 3)


def test_sign_test_p_values():
    # 6 to 0: 2 / 2**6; 5 to 0: 2 / 2**5; 4 to 1: 2 * (1 + 5) / 2**5.
    assert paired([True] * 6, [False] * 6).p_value == pytest.approx(2 / 64)
    assert paired([True] * 5, [False] * 5).p_value == pytest.approx(2 / 32)
    assert paired([True] * 4 + [False], [False] * 4 + [True]).p_value == pytest.approx(12 / 32)
    assert paired([True] * 6, [False] * 6).clear() and not paired([True] * 5, [False] * 5).clear()


def test_identical_results_carry_no_evidence():
    same = paired([True, False, True], [True, False, True])
    assert same.p_value == 1.0 and not same.clear() and same.disagreements == 0


def test_the_test_is_symmetric_and_refuses_different_lengths():
    a, b = [True, True, False, True], [False, True, True, False]
    assert paired(a, b).p_value == paired(b, a).p_value == 1.0   # 2 to 1: min(1, 2 * (1 + 3) / 8)
    with pytest.raises(ValueError):
        paired([True], [True, False])


def test_clearly_better_needs_a_clear_difference_in_the_first_ones_favour():
    # 6 to 0 is clear (p = 2/64): the winner is clearly better, the loser is not, though the test is symmetric.
    winner, loser = [True] * 6, [False] * 6
    assert paired(winner, loser).first_clearly_better() and not paired(loser, winner).first_clearly_better()
    # 4 to 0 (p = 2/16) goes the first's way but could be luck: not clearly better.
    assert not paired([True] * 4, [False] * 4).first_clearly_better()
