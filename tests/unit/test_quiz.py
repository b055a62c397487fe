import pytest

from workbook.course import quiz
from workbook.quiz import QUESTIONS, Option, Question, QuizState, check


def test_every_question_has_exactly_one_right_answer_and_feedback_for_each_option():
    assert len(QUESTIONS) >= 8
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    for q in QUESTIONS:
        assert sum(o.correct for o in q.options) == 1
        assert all(o.feedback.strip() for o in q.options)
        assert len(q.options) >= 3


def test_the_three_module_questions_are_there():
    prompts = " ".join(q.prompt for q in QUESTIONS).lower()
    assert "fine-tune" in prompts and "self-hosted" in prompts and "pattern" in prompts
    assert "Protocol + Factory" in quiz.question("provider-pattern").answer.text


def test_check_by_index_text_or_option():
    q = quiz.question("fine-tune-when")
    assert check(q, q.answer_index).correct
    assert check(q, q.answer.text).correct
    assert check(q, q.answer).correct
    wrong = next(i for i, o in enumerate(q.options) if not o.correct)
    result = check(q, wrong)
    assert not result.correct and result.right_answer == q.answer.text
    assert "right answer" in str(result)


def test_bad_choices_are_errors():
    q = QUESTIONS[0]
    with pytest.raises(ValueError):
        check(q, 99)
    with pytest.raises(ValueError):
        check(q, "not an option")
    with pytest.raises(TypeError):
        check(q, True)


def test_questions_refuse_zero_or_two_right_answers():
    with pytest.raises(ValueError, match="exactly one"):
        Question("x", "?", (Option("a", False, "f"), Option("b", False, "f")))
    with pytest.raises(ValueError, match="exactly one"):
        Question("x", "?", (Option("a", True, "f"), Option("b", True, "f")))
    with pytest.raises(ValueError, match="feedback"):
        Question("x", "?", (Option("a", True, "f"), Option("b", False, " ")))


def test_state_keeps_the_last_answer_per_question():
    state = QuizState(QUESTIONS)
    q = QUESTIONS[0]
    wrong = next(i for i, o in enumerate(q.options) if not o.correct)
    state.answer(q.id, wrong)
    assert state.score == 0 and state.answered == 1
    state.answer(q.id, q.answer_index)
    assert state.score == 1 and state.answered == 1
    assert state.summary().startswith("1 of")


def test_widget_clicks_record_answers_in_the_state():
    box, state, controls = quiz.quiz_widget()
    radio, button = controls["provider-pattern"]
    button.click()                       # nothing chosen yet: nothing recorded
    assert state.answered == 0
    radio.value = quiz.question("provider-pattern").answer.text
    button.click()
    assert state.results["provider-pattern"].correct and state.score == 1
