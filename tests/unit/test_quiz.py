import pytest

from workbook.ai import load_settings
from workbook.course import quiz
from workbook.course.quiz import O, QUESTIONS, Option, Question, QuizState, check

# A blind strategy -- always the longest option, the shortest, or one fixed position -- must not
# pass the quiz: 40% is the ceiling the course sets (issue 14).
CEILING = 0.40


def test_every_question_has_exactly_one_right_answer_and_feedback_for_each_option():
    assert len(QUESTIONS) >= 12
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


# -- trick resistance -----------------------------------------------------------------------------
def O(text, feedback, correct=False):
    return Option(text, correct, feedback)


def test_the_strategies_are_measured_correctly_on_a_quiz_built_to_be_gamed():
    gamed = tuple(Question(f"q{i}", "?", (O("short", "f"), O("a much longer right answer", "f", True),
                                          O("tiny", "f"))) for i in range(4))
    assert quiz.blind_strategy_scores(gamed) == {
        "always the longest option": 1.0, "always the shortest option": 0.0,
        "always option A": 0.0, "always option B": 1.0, "always option C": 0.0}
    tie = (Question("t", "?", (O("same", "f", True), O("also", "f"))),)
    assert quiz.blind_strategy_scores(tie)["always the longest option"] == 0.5


def test_no_blind_strategy_passes_the_quiz():
    scores = quiz.blind_strategy_scores()
    assert {"always the longest option", "always the shortest option", "always option A",
            "always option D"} <= set(scores)
    for strategy, score in scores.items():
        assert score <= CEILING, f"{strategy} scores {score:.0%} (the ceiling is {CEILING:.0%})"


def test_options_of_one_question_are_of_comparable_length():
    # Within 1.5x of each other: the right answer cannot be spotted by its length.
    for q in QUESTIONS:
        lengths = [len(o.text) for o in q.options]
        assert max(lengths) <= 1.5 * min(lengths), f"{q.id}: option lengths {lengths}"


def test_the_quiz_covers_every_topic_and_the_module_scenarios():
    topics = {q.topic for q in QUESTIONS}
    assert {"fine-tuning", "self-hosting", "abstraction", "api services", "bedrock", "small models",
            "configuration", "model selection", "asyncio"} <= topics
    scenarios = {"data-residency", "entra-vs-keys", "inference-profile", "break-even", "ticket-router",
                 "continuous-batching", "env-precedence"}
    assert scenarios <= {q.id for q in QUESTIONS}


def test_the_practice_question_is_not_one_of_the_quiz_questions():
    assert quiz.PRACTICE.id not in {q.id for q in QUESTIONS}
    assert quiz.PRACTICE.prompt not in {q.prompt for q in QUESTIONS}


def test_the_precedence_answer_is_what_load_settings_does(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("AI__PROVIDER=ollama\n")
    built = load_settings(env_file=env_file, environ={"AI__PROVIDER": "mock"}).provider
    answer = quiz.question("env-precedence").answer.text
    assert answer.startswith(f"{built}:"), (built, answer)


def test_the_html_views_render_the_questions_markup_instead_of_showing_it():
    marked = Question("marked", "How long does `await asyncio.gather(a, b)` take?", (
        O("One coroutine *runs* at a time.", "Right: *runs*, not waits.", correct=True),
        O("Four seconds, a <b> tag", "No: 2 * 2 is not how it adds up."),
        O("Never", "No.")))
    page = quiz.static_html((marked,))
    assert "<code>await asyncio.gather(a, b)</code>" in page and "<em>runs</em>" in page
    assert "`" not in page and "*runs*" not in page
    assert "&lt;b&gt; tag" in page and "2 * 2" in page, "other text is escaped, a lone * left as it is"
    box, _, controls = quiz.quiz_widget((marked,))
    radio, button = controls["marked"]
    radio.value = radio.options[0]
    button.click()
    feedback = box.children[0].children[3].value
    assert "<em>runs</em>" in feedback, "the widget's feedback renders it too"
