"""Detect a file's preference-data format and normalise each row to one shape.

Formats (``format=`` of the datamodule):

- ``"standard"`` / ``"conversational"`` (same handling): columns ``prompt``, ``chosen``, ``rejected``. Each
  is a string or, TRL style, a list of ``{"role", "content"}`` messages; ``chosen`` / ``rejected`` lists
  hold exactly one assistant message.
- ``"implicit"``: ``chosen`` and ``rejected`` only, each a whole conversation: an hh-rlhf transcript
  (``"\\n\\nHuman: ...\\n\\nAssistant: ..."``) or a message list ending with an assistant message; the
  shared prefix is the prompt.
- ``"sft"``: no ``rejected``: ``prompt`` + ``chosen`` (or ``completion``), or a ``messages`` column
  ending with an assistant message.

Any format may carry a string ``subpreference`` column. Every row is normalised to
``{"prompt": [messages], "chosen": str, "rejected": str | None, "subpreference": str}``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from plot_lightning.data.errors import DataFormatError, RowProblem
from plot_lightning.data.transcript import split_transcripts
from plot_lightning.data.validation import check_messages, check_text, text_or_messages

FORMATS = ("auto", "standard", "conversational", "implicit", "sft")
NO_SUBPREFERENCE = "all"
EXPECTED_COLUMNS = (
    "preference pairs: prompt/chosen/rejected, or chosen/rejected with the prompt inside (implicit); "
    "SFT (format: sft, or when no loss needs a rejected response): prompt/chosen or messages"
)
KNOWN_COLUMNS = ("prompt", "chosen", "rejected", "completion", "messages", "subpreference")


def _misspelt_columns(names: set[str]) -> dict[str, str]:
    """``{found: meant}`` for columns that look like a misspelt known column (``rejectd`` -> ``rejected``)."""
    guesses = {}
    for name in sorted(names - set(KNOWN_COLUMNS)):
        close = difflib.get_close_matches(name.lower(), KNOWN_COLUMNS, n=1, cutoff=0.75)
        if close and close[0] not in names:
            guesses[name] = close[0]
    return guesses


def detect_format(columns: Iterable[str], requested: str = "auto", *, source: str = "data") -> str:
    """Return the format (``"standard"``, ``"implicit"`` or ``"sft"``) of a file with these columns.

    ``requested`` other than ``"auto"`` is checked against the columns. Raises ValueError naming
    ``source`` and its columns when the columns fit no format.
    """
    if requested not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {requested!r}")
    names = set(columns)
    misspelt = _misspelt_columns(names)
    if misspelt:
        guesses = ", ".join(f"'{found}' (did you mean '{meant}'?)" for found, meant in misspelt.items())
        raise DataFormatError(
            f"{source}: unknown column(s) {guesses}; found columns {sorted(names)}; expected {EXPECTED_COLUMNS}"
        )
    if requested == "auto":
        if "rejected" in names:
            requested = "standard" if "prompt" in names else "implicit"
        elif "messages" in names or ("prompt" in names and names & {"chosen", "completion"}):
            requested = "sft"
        else:
            raise DataFormatError(
                f"{source}: cannot tell the data format from columns {sorted(names)}; expected {EXPECTED_COLUMNS}"
            )
    if requested == "sft":
        if "messages" not in names and not ("prompt" in names and names & {"chosen", "completion"}):
            raise DataFormatError(
                f"{source}: format 'sft' needs 'messages', or 'prompt' + 'chosen'; found {sorted(names)}"
            )
        return "sft"
    missing = {"chosen", "rejected"} - names
    if requested != "implicit" and "prompt" not in names:
        missing.add("prompt")
    if missing:
        raise DataFormatError(
            f"{source}: format {requested!r} needs column(s) {sorted(missing)}; found {sorted(names)}"
        )
    return "standard" if requested == "conversational" else requested


def _as_prompt(value: Any) -> list[dict[str, str]]:
    value = text_or_messages(value, "prompt")
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if value[-1]["role"] == "assistant":
        raise RowProblem("prompt", "the prompt's last message is an assistant message")
    return value


def _as_response(value: Any, field: str) -> str:
    value = text_or_messages(value, field)
    if isinstance(value, str):
        return value
    if len(value) != 1 or value[0]["role"] != "assistant":
        raise RowProblem(field, "a message-list response must be exactly one assistant message")
    return value[0]["content"]


def _split_conversation(value: Any, field: str) -> tuple[list[dict[str, str]], str]:
    """Split a message list ending in an assistant turn into (prompt messages, response)."""
    messages = check_messages(value, field)
    if messages[-1]["role"] != "assistant" or len(messages) < 2:
        raise RowProblem(field, "a conversation must end with an assistant message after a prompt")
    return messages[:-1], messages[-1]["content"]


def _implicit(row: Mapping[str, Any], pairs: bool) -> tuple[list[dict[str, str]], str, str | None]:
    chosen = text_or_messages(row.get("chosen"), "chosen")
    rejected = text_or_messages(row.get("rejected"), "rejected") if pairs else None
    if isinstance(chosen, str):
        if rejected is not None and not isinstance(rejected, str):
            raise RowProblem("rejected", "is a message list but 'chosen' is a transcript string")
        return split_transcripts(chosen, rejected)
    prompt, chosen_response = _split_conversation(chosen, "chosen")
    if rejected is None:
        return prompt, chosen_response, None
    if isinstance(rejected, str):
        raise RowProblem("rejected", "is a string but 'chosen' is a message list")
    rejected_prompt, rejected_response = _split_conversation(rejected, "rejected")
    if rejected_prompt != prompt:
        raise RowProblem("rejected", "its messages before the last one differ from those of 'chosen'")
    return prompt, chosen_response, rejected_response


def _sft(row: Mapping[str, Any]) -> tuple[list[dict[str, str]], str, None]:
    if "messages" in row and row.get("prompt") is None:
        prompt, response = _split_conversation(row.get("messages"), "messages")
        return prompt, response, None
    field = "chosen" if "chosen" in row else "completion"
    return _as_prompt(row.get("prompt")), _as_response(row.get(field), field), None


def normalise_row(row: Mapping[str, Any], data_format: str, *, pairs: bool = True) -> dict[str, Any]:
    """Validate one raw row of ``data_format`` and return the normalised record (see module docstring).

    ``pairs=False`` ignores any ``rejected`` column (SFT on the chosen responses). Raises RowProblem.
    """
    if data_format == "sft":
        prompt, chosen, rejected = _sft(row)
    elif data_format == "implicit":
        prompt, chosen, rejected = _implicit(row, pairs)
    elif data_format == "standard":
        prompt = _as_prompt(row.get("prompt"))
        chosen = _as_response(row.get("chosen"), "chosen")
        rejected = _as_response(row.get("rejected"), "rejected") if pairs else None
    else:
        raise ValueError(f"unknown data format {data_format!r}")
    subpreference = NO_SUBPREFERENCE
    if row.get("subpreference") is not None:
        subpreference = check_text(row["subpreference"], "subpreference").strip()
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "subpreference": subpreference}
