"""Every check type on a passing and a failing answer; the JSONL format; the built-in set."""

import json

import pytest

from workbook.compare.cases import CHECKS, Case, CaseError, check_answer, default_cases, load_cases, parse_cases
from workbook.answer_checks import extract_json_object, first_number

PASS_FAIL = [
    (Case("Say OK", "exact", "OK"), "  ok.\n", "OK, done."),
    (Case("Capital of France?", "contains", "Paris"), "The capital is paris.", "It is Lyon."),
    (Case("Capital?", "contains", ["Paris", "Parigi"]), "Parigi, naturalmente", "Roma"),
    (Case("Symbol for gold?", "regex", r"\bAu\b"), "Gold is Au.", "Gold is aurum."),
    (Case("Extract", "json", {"name": "Maria Lopez", "age": 34}),
     'Sure:\n```json\n{"name": "Maria Lopez", "age": 34, "city": "Madrid"}\n```',
     '{"name": "Maria Lopez", "age": 43}'),
    (Case("Nested", "json", {"a": {"b": 1}}), 'Here: {"a": {"b": 1, "c": 2}} done', '{"a": {"c": 2}}'),
    (Case("17*23?", "number", 391), "391", "The answer to 17 x 23 is 391"),  # first number counts
    (Case("Price?", "number", 1234.5, tolerance=0.01), "It costs 1,234.50 dollars", "About 1234.6"),
    (Case("Sentiment", "choice", "negative", choices=("positive", "negative", "neutral")),
     "Negative.", "It is negative, not positive."),
    (Case("Spam?", "choice", "spam", choices=("spam", "not spam")), "spam", "not spam"),
]


@pytest.mark.parametrize("case, good, bad", PASS_FAIL, ids=[c.check for c, _, _ in PASS_FAIL])
def test_check_passes_the_right_answer_and_fails_the_wrong_one(case, good, bad):
    assert check_answer(case, good) is True
    assert check_answer(case, bad) is False


def test_every_check_type_is_covered_above():
    assert {case.check for case, _, _ in PASS_FAIL} == set(CHECKS)


def test_choice_must_name_the_answer_and_no_other():
    case = Case("Which?", "choice", "not spam", choices=("spam", "not spam"))
    assert check_answer(case, "This is not spam.")  # "spam" inside "not spam" is not a second choice
    assert not check_answer(case, "spam or not spam")
    assert not check_answer(case, "no idea")


def test_helpers():
    assert first_number("about -3.5 or 7") == -3.5
    assert first_number("no digits") is None
    assert extract_json_object("nothing here") is None
    assert extract_json_object('[1, 2] then {"k": "v"}') == {"k": "v"}
    assert check_answer(Case("x", "json", {"age": 34}), '{"age": "34"}')  # lenient about type
    assert not check_answer(Case("x", "json", {"age": 34}), "[34]")


@pytest.mark.parametrize("data, message", [
    ({"prompt": "p", "check": "fuzzy", "expected": "x"}, "not one of"),
    ({"prompt": "p", "check": "json", "expected": "x"}, "object"),
    ({"prompt": "p", "check": "number", "expected": "12"}, "numeric"),
    ({"prompt": "p", "check": "choice", "expected": "a", "choices": ["b", "c"]}, "not among"),
    ({"prompt": "p", "check": "regex", "expected": "("}, "bad regex"),
    ({"prompt": "p", "check": "exact"}, "missing field"),
    ({"prompt": "p", "check": "exact", "expected": "x", "answer": "y"}, "unknown field"),
])
def test_malformed_cases_are_reported(data, message):
    with pytest.raises(CaseError, match=message):
        Case.from_dict(data)


def test_jsonl_file_round_trip_with_line_numbers(tmp_path):
    path = tmp_path / "cases.jsonl"
    lines = ["# my cases", json.dumps({"prompt": "2+2?", "check": "number", "expected": 4}), "",
             json.dumps({"id": "cap", "prompt": "Capital?", "system": "Be brief.",
                         "check": "contains", "expected": "Paris"})]
    path.write_text("\n".join(lines) + "\n")
    cases = load_cases(path)
    assert [c.id for c in cases] == ["case-2", "cap"]
    assert [m.role for m in cases[1].messages()] == ["system", "user"]
    assert load_cases([c.to_dict() for c in cases]) == cases
    path.write_text(lines[1] + "\n{not json\n")
    with pytest.raises(CaseError, match="line 2"):
        load_cases(path)
    with pytest.raises(CaseError, match="does not exist"):
        load_cases(tmp_path / "missing.jsonl")
    with pytest.raises(CaseError, match="duplicate"):
        parse_cases([lines[3], lines[3]])


def test_builtin_set_is_about_twenty_cases_of_every_check_type():
    cases = default_cases()
    assert 18 <= len(cases) <= 25
    assert {c.check for c in cases} == set(CHECKS)
    assert {c.category for c in cases} == {"facts", "arithmetic", "extraction", "classification",
                                          "instructions"}
    assert load_cases(None) == cases


def test_builtin_set_is_answerable_by_a_model_that_knows_the_answers():
    answers = {
        "fact-capital-france": "The capital of France is Paris.",
        "fact-largest-planet": "Jupiter is the largest planet.",
        "fact-romeo-juliet": "William Shakespeare wrote it.",
        "fact-gold-symbol": "The symbol is Au.",
        "fact-ww2-end": "It ended in 1945.",
        "fact-thank-you-spanish": "Gracias.",
        "math-add-small": "12", "math-times-table": "72", "math-multiply": "391",
        "math-add-large": "6912", "math-discount": "30",
        "json-person": '{"name": "Maria Lopez", "age": 34}',
        "json-place": '{"city": "Osaka", "country": "Japan"}',
        "json-order": '{"quantity": 3}',
        "class-sentiment-negative": "negative", "class-sentiment-positive": "Positive",
        "class-topic": "technology", "class-spam": "spam",
        "instr-exact-ok": "OK", "instr-uppercase": "BLUE.",
        "instr-comma-list": "red, yellow, blue", "instr-word-count": "Vast, deep, blue.",
    }
    cases = default_cases()
    assert {c.id for c in cases} == set(answers)
    assert all(check_answer(c, answers[c.id]) for c in cases)
    # ...a chatty answer still fails the instruction-following cases, while the number
    # check forgives chatter around a correct first number.
    chatty = "Sure! Here is my answer: {} Hope it helps"
    assert not any(check_answer(c, chatty.format(answers[c.id]))
                   for c in cases if c.category == "instructions")
    assert all(check_answer(c, chatty.format(answers[c.id]))
               for c in cases if c.check == "number")
