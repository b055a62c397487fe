"""The labelled tickets used without training: the nearest ones as examples, or their vote."""

import pytest

from workbook.finetune.data import TRAIN_FILE, Example, data_path, eval_tickets, read_examples
from workbook.finetune.nearest import NearestTickets

TOY = [Example(None, "my parcel never arrived", "shipping"),
       Example(None, "parcel tracking stuck for days", "shipping"),
       Example(None, "refund for a double charge", "billing"),
       Example(None, "charge on my card after I cancelled the parcel order", "billing"),
       Example(None, "the app crashes on start", "technical")]


def test_nearest_puts_the_most_alike_first_and_keeps_the_label():
    index = NearestTickets(TOY)
    found = index.nearest("where is my parcel? tracking shows nothing", k=2)
    assert found[0] == ("parcel tracking stuck for days", "shipping")
    assert [team for _, team in found] == ["shipping", "shipping"]


def test_vote_takes_the_majority_of_the_k_nearest():
    index = NearestTickets(TOY)
    # Two of the three nearest are billing tickets, though the single nearest is not.
    assert index.vote("double charge on my card for the parcel", k=1) == "billing"
    assert index.vote("parcel charge refund", k=3) == "billing"


def test_a_tie_goes_to_the_nearest_of_the_tied_teams():
    index = NearestTickets(TOY[:3])
    nearest_team = index.nearest("parcel refund", k=2)[0][1]
    assert index.vote("parcel refund", k=2) == nearest_team
    swapped = NearestTickets([TOY[2], TOY[0]])
    assert swapped.vote("double charge parcel", k=2) == swapped.nearest("double charge parcel", k=1)[0][1]


def test_no_shared_word_is_no_vote():
    assert NearestTickets(TOY).vote("xylophone", k=3) is None
    assert NearestTickets(TOY).nearest("xylophone", k=3) == []


def test_an_empty_index_is_refused():
    with pytest.raises(ValueError):
        NearestTickets([])


def test_the_bundled_file_is_the_fine_tunes_training_data():
    index = NearestTickets.from_file()
    training = read_examples(data_path(TRAIN_FILE))
    assert len(index) == len(training)
    # A training ticket's own text finds itself first: the index holds every ticket with its label.
    for example in training[::50]:
        assert index.nearest(example.user, k=1)[0] == (example.user, example.assistant)


def test_no_course_ticket_is_in_the_index():
    # Retrieval must not hand a test ticket its own answer: the 20 are not in the labelled file.
    index = NearestTickets.from_file()
    for ticket in eval_tickets():
        assert all(text != ticket["text"] for text, _ in index.nearest(ticket["text"], k=4))
