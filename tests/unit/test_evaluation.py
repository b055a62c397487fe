import pytest

from workbook.ai import AISettings
from workbook.ai.providers.mock import MockProvider
from workbook.course.evaluation import accuracy, grade, is_correct, known_wrong_named, load_jsonl, only_choice, verdict
from workbook.answer_checks import normalise_exact
from workbook.course.retrieval import BM25, tokenize


def test_shipped_data_sets_load_and_are_labelled():
    items = load_jsonl("slm_eval.jsonl")
    assert 20 <= len(items) <= 40
    assert {i["task"] for i in items} == {"classification", "facts", "extraction"}
    for item in items:
        assert item["check"] in ("contains", "choice", "exact")
        if item["check"] == "choice":
            assert item["expected"] in item["labels"]
        if item["task"] == "facts":   # a few wrong answers, none of them the expected one
            assert item["known_wrong"] and not known_wrong_named(item["expected"], item), item["id"]
    tickets = load_jsonl("support_tickets.jsonl")
    docs = load_jsonl("support_docs.jsonl")
    assert len(tickets) >= 16 and {t["label"] for t in tickets} == {d["category"] for d in docs}


def test_a_label_answer_counts_only_when_it_names_one_label():
    """The course's one rule for a label (06, 08, compare): a program acting on it needs one."""
    assert only_choice(["positive", "negative"], "The review is negative.") == "negative"
    assert only_choice(["positive", "negative"], "positive, I mean negative") is None
    assert only_choice(["spam", "not spam"], "This is not spam.") == "not spam"   # not also "spam"
    assert only_choice(["spam", "not spam"], "Spam, clearly. Not spam? No.") is None
    assert only_choice(["spam", "not spam"], "No idea.") is None
    # "not a spam" is the label "not spam", not "spam" (SmolLM2 wrote this one in notebook 06).
    assert only_choice(["spam", "not spam"], "This email is not a spam. It's a genuine message") == "not spam"
    assert only_choice(["spam", "not spam"], "Not a spam? It is a spam.") is None   # names both
    assert only_choice(["billing"], "BILLING") == "billing"
    assert not is_correct("positive, I mean negative", "negative", "choice", ["positive", "negative"])


def test_a_contains_pass_that_also_names_a_known_wrong_answer_is_pointed_out_not_regraded():
    """Notebook 06: SmolLM2 named Shakespeare, then gave the play to a French playwright."""
    item = {"expected": "Shakespeare", "check": "contains", "known_wrong": ["Marlowe", "French playwright"]}
    answer = ("The story of Romeo and Juliet by William Shakespeare is attributed to the 17th-century "
              "French playwright and poet.")
    assert is_correct(answer, item["expected"], "contains"), "contains sees the word, whatever else is said"
    assert known_wrong_named(answer, item) == ["French playwright"]
    assert known_wrong_named("William Shakespeare wrote it.", item) == []
    assert known_wrong_named("Marlowe? No: Shakespeare.", item) == ["Marlowe"]   # a denial names it too: read it
    assert known_wrong_named("Shakespeare.", {"expected": "Shakespeare"}) == []   # an item without the list


@pytest.mark.parametrize("answer, expected, check, cut, outcome", [
    ("The largest planet in the solar system is Jupiter.", "Jupiter", "contains", False, "right"),
    ("The largest planet in the solar system is Neptune.", "Jupiter", "contains", False, "wrong"),
    # Cut, but its first clause already names something else: wrong, not unfinished.
    ("The largest planet in the solar system is Neptune, but i", "Jupiter", "contains", True, "wrong"),
    ("El Salvador, also known as La Esp", "Madrid", "contains", True, "wrong"),
    # Cut before it said anything the check can judge.
    ("The largest planet in the solar system is", "Jupiter", "contains", True, "could not tell"),
    ("17 * 23 = ", "391", "contains", True, "could not tell"),
    ("The price is 1,000 and", "1,200", "contains", True, "could not tell"),   # "1,000" ends no clause
    ("john.smith@exa", "john.smith@example.com", "exact", True, "could not tell"),
    ("The company was founded in 19", "1998", "exact", True, "wrong"),   # already not the bare value
    ("This email is a classic example of a", "spam", "choice", True, "could not tell"),
    ("A positive sentiment is", "negative", "choice", True, "wrong"),     # a wrong label is named
])
def test_verdict_tells_a_cut_answer_from_a_wrong_one(answer, expected, check, cut, outcome):
    labels = ["positive", "negative", "spam", "not spam"]
    assert verdict(answer, expected, check, cut=cut, labels=labels) == outcome


def test_checks():
    assert is_correct("The capital is Paris.", "Paris", "contains")
    assert is_correct(" 'Lisbon.' ", "Lisbon", "exact")
    assert is_correct("49.99", "49.99", "exact")
    assert not is_correct("The year is 1998.", "1998", "exact")
    assert normalise_exact('"A-4821"') == "a-4821"
    with pytest.raises(ValueError):
        is_correct("x", "x", "label")   # the lenient first-label check is gone: one rule, "choice"
    with pytest.raises(ValueError):
        is_correct("x", "x", "fuzzy")


async def test_grade_runs_a_provider_over_items():
    provider = MockProvider(AISettings(provider="mock", mock_ttft_s=0), reply=lambda messages: "positive")
    items = [{"id": "a", "task": "t", "prompt": "p", "expected": "positive", "check": "choice",
              "labels": ["positive", "negative"]},
             {"id": "b", "task": "t", "prompt": "p", "expected": "negative", "check": "choice",
              "labels": ["positive", "negative"]}]
    graded = await grade(provider, items, lambda item: [{"role": "user", "content": item["prompt"]}],
                         progress=False)
    assert [g.correct for g in graded] == [True, False] and accuracy(graded) == 0.5


async def test_grade_records_which_answers_the_token_limit_cut():
    """06 tells a cut answer from a wrong one: a value the limit cut off is not a model miss."""
    provider = MockProvider(AISettings(provider="mock", mock_ttft_s=0, mock_tokens_per_s=10_000),
                            reply=lambda messages: "The phone number is 555-0142, as written above.")
    items = [{"id": "a", "task": "extraction", "prompt": "p", "expected": "555-0142", "check": "contains"}]
    build = lambda item: [{"role": "user", "content": item["prompt"]}]
    cut = await grade(provider, items, build, max_tokens=3, progress=False)
    whole = await grade(provider, items, build, max_tokens=64, progress=False)
    assert cut[0].finish_reason == "length" and not cut[0].correct
    assert whole[0].finish_reason != "length" and whole[0].correct

def test_bm25_ranks_the_matching_document_first():
    docs = [{"id": 1, "text": "refunds and double charges on your card"},
            {"id": 2, "text": "parcels that have not arrived, tracking"},
            {"id": 3, "text": "password reset emails and login"}]
    index = BM25(docs)
    assert index.search("I was charged twice, please refund", k=1)[0].doc["id"] == 1
    assert index.search("my parcel tracking is stuck", k=1)[0].doc["id"] == 2
    assert index.search("zebra", k=2) == []
    assert tokenize("The Parcels are here") == ["parcel", "here"]
    with pytest.raises(ValueError):
        BM25([])


def test_bm25_finds_the_right_category_for_every_shipped_ticket():
    index = BM25(load_jsonl("support_docs.jsonl"))
    for ticket in load_jsonl("support_tickets.jsonl"):
        assert index.search(ticket["text"], k=1)[0].doc["category"] == ticket["label"], ticket["text"]
