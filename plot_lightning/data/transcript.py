"""Implicit-prompt transcripts (hh-rlhf style): ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` strings.

The prompt is the common prefix of the chosen and rejected transcripts up to and including the last
``"\\n\\nAssistant:"`` of the chosen one; it is converted into chat messages so the tokenizer's chat
template can render it.
"""

from __future__ import annotations

import re

from plot_lightning.data.errors import RowProblem

ASSISTANT_MARK = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}


def transcript_to_messages(prefix: str, field: str) -> list[dict[str, str]]:
    """Turn ``"\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant:"`` into chat messages.

    The trailing empty ``Assistant:`` turn (the generation point) is dropped. Text before the first turn, if
    any, becomes a system message. Raises RowProblem when a turn is empty or the prompt has no user turn.
    """
    pieces = _TURN.split(prefix)
    messages = []
    if pieces[0].strip():
        messages.append({"role": "system", "content": pieces[0].strip()})
    turns = list(zip(pieces[1::2], pieces[2::2], strict=True))
    if turns and turns[-1][0] == "Assistant" and not turns[-1][1].strip():
        turns = turns[:-1]
    for number, (speaker, text) in enumerate(turns, start=1):
        if not text.strip():
            raise RowProblem(field, f"empty {speaker} turn in the transcript (turn {number})")
        messages.append({"role": _ROLE[speaker], "content": text.strip()})
    if not any(message["role"] == "user" for message in messages):
        raise RowProblem(field, "the transcript's prompt has no 'Human:' turn")
    return messages


def split_transcripts(chosen: str, rejected: str | None) -> tuple[list[dict[str, str]], str, str | None]:
    """Split implicit-prompt transcripts into ``(prompt_messages, chosen_response, rejected_response)``.

    Raises RowProblem on ``chosen`` when it has no ``"\\n\\nAssistant:"`` turn, on ``rejected`` when it does
    not start with the chosen prompt prefix, and on either when its response is empty.
    """
    cut = chosen.rfind(ASSISTANT_MARK)
    if cut < 0:
        raise RowProblem("chosen", "implicit-prompt transcript has no '\\n\\nAssistant:' turn")
    prefix = chosen[: cut + len(ASSISTANT_MARK)]
    chosen_response = chosen[len(prefix) :].strip()
    if not chosen_response:
        raise RowProblem("chosen", "empty response after the last '\\n\\nAssistant:'")
    rejected_response = None
    if rejected is not None:
        if not rejected.startswith(prefix):
            raise RowProblem(
                "rejected", "does not share the prompt prefix of 'chosen' (up to its last Assistant:)"
            )
        rejected_response = rejected[len(prefix) :].strip()
        if not rejected_response:
            raise RowProblem("rejected", "empty response after the shared prompt prefix")
    return transcript_to_messages(prefix, "chosen"), chosen_response, rejected_response
