"""The bundled fine-tuning data: its format, its size and balance, its Bedrock copy, and that
none of it repeats or paraphrases the 20 tickets notebook 08 evaluates on."""

import json
from collections import Counter

import pytest

from workbook.finetune.data import (
    BEDROCK_SCHEMA, MAX_OVERLAP, TEAMS, TRAIN_FILE, VALID_FILE, DataError, content_words, data_path,
    eval_tickets, overlap, read_examples)


@pytest.fixture(scope="module")
def train():
    return read_examples(data_path(TRAIN_FILE))


@pytest.fixture(scope="module")
def valid():
    return read_examples(data_path(VALID_FILE))


def test_a_few_hundred_labelled_tickets_for_the_four_teams(train, valid):
    assert len(train) >= 300 and len(valid) >= 30
    for split in (train, valid):
        counts = Counter(e.assistant for e in split)
        assert set(counts) == set(TEAMS), counts
        assert max(counts.values()) <= 1.5 * min(counts.values()), f"unbalanced: {counts}"


def test_varied_and_no_ticket_twice(train, valid):
    texts = [e.user.lower() for e in train + valid]
    assert len(set(texts)) == len(texts), "a ticket appears twice"
    lengths = sorted(len(t.split()) for t in texts)
    assert lengths[0] <= 6 and lengths[-1] >= 25, f"lengths {lengths[0]}..{lengths[-1]} words"


def test_validation_shares_no_wording_with_training(train, valid):
    training_words = [content_words(e.user) for e in train]
    for example in valid:
        words = content_words(example.user)
        assert words not in training_words, example.user


def test_no_ticket_repeats_or_paraphrases_a_course_ticket(train, valid):
    course = [t["text"] for t in eval_tickets()]
    assert len(course) == 20
    closest = max(((overlap(e.user, c), e.user, c) for e in train + valid for c in course))
    assert closest[0] <= MAX_OVERLAP, f"too close to a course ticket: {closest}"


def test_the_overlap_check_catches_a_paraphrase():
    # The check must be able to fail: a light rewording of a course ticket counts as too close.
    course = eval_tickets()[0]["text"]  # "I was charged twice for my subscription this month..."
    assert overlap("Hello, I got charged twice for my subscription this month, refund one payment?",
                   course) > MAX_OVERLAP


def test_the_bedrock_copy_has_the_same_examples(train, valid):
    for name, examples in ((TRAIN_FILE, train), (VALID_FILE, valid)):
        lines = data_path(name.replace(".jsonl", ".bedrock.jsonl")).read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert len(records) == len(examples)
        for record, example in zip(records, examples):
            assert record["schemaVersion"] == BEDROCK_SCHEMA
            assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
            assert record["messages"][0]["content"] == [{"text": example.user}]
            assert record["messages"][1]["content"] == [{"text": example.assistant}]


@pytest.mark.parametrize("content, problem", [
    ("", "empty"),
    ('{"prompt": "x", "completion": "billing"}\n', "not the chat format"),
    ('{"messages": [{"role": "user", "content": "my parcel"}]}\n', "no assistant turn"),
    ("not json\n", "not JSON"),
    ('{"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}, '
     '{"role": "assistant", "content": "c"}]}\n'
     '{"messages": [{"role": "system", "content": "z"}, {"role": "user", "content": "b"}, '
     '{"role": "assistant", "content": "c"}]}\n', "system message differs"),
])
def test_bad_files_are_one_clear_line(tmp_path, content, problem):
    path = tmp_path / "data.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=problem) as raised:
        read_examples(path)
    assert "\n" not in str(raised.value)
