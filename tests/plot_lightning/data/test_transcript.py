import pytest

from plot_lightning.data.errors import RowProblem
from plot_lightning.data.transcript import split_transcripts, transcript_to_messages

PREFIX = "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: How are you?\n\nAssistant:"


def test_split_shares_prefix_and_builds_messages():
    prompt, chosen, rejected = split_transcripts(PREFIX + " Fine, thanks.", PREFIX + " Go away.")
    assert prompt == [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
    ]
    assert (chosen, rejected) == ("Fine, thanks.", "Go away.")


def test_rejected_without_the_prefix_is_a_problem():
    with pytest.raises(RowProblem, match="does not share") as caught:
        split_transcripts(PREFIX + " Fine.", "\n\nHuman: Something else\n\nAssistant: No.")
    assert caught.value.field == "rejected"


@pytest.mark.parametrize(
    ("chosen", "field"),
    [("no turns at all", "chosen"), (PREFIX + "   ", "chosen")],
)
def test_bad_chosen_transcripts(chosen, field):
    with pytest.raises(RowProblem) as caught:
        split_transcripts(chosen, None)
    assert caught.value.field == field


def test_text_before_first_turn_is_a_system_message_and_empty_turns_fail():
    messages = transcript_to_messages("Be kind.\n\nHuman: hi\n\nAssistant:", "chosen")
    assert messages[0] == {"role": "system", "content": "Be kind."}
    with pytest.raises(RowProblem, match="empty Human turn"):
        transcript_to_messages("\n\nHuman:  \n\nAssistant: ok\n\nHuman: hi\n\nAssistant:", "chosen")
