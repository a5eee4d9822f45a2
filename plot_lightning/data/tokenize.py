"""Tokenise one (prompt messages, response) pair into ``input_ids`` and ``labels``.

The chat template is applied ONCE over the whole conversation (prompt messages + the assistant response);
the prompt part is located by rendering the prompt alone with ``add_generation_prompt=True`` and checking
that its tokens are a prefix of the conversation's tokens. Special tokens come from the template only: the
rendered text is tokenised with ``add_special_tokens=False``, and a BOS is prepended only when the tokenizer
normally adds one and the template did not. Tokenizers without a chat template get a plain
``"role: content"`` rendering and an EOS after the response.

Truncation: the prompt is left-truncated to ``max_prompt_length`` first, then the response is cut to fit
``max_length``; a row that cannot keep at least one response token is a :class:`RowProblem`. A long response
is first cut by characters (never tokenised whole), redone longer until the kept tokens are those of the whole
response.
"""

from __future__ import annotations

import logging

from jinja2.exceptions import TemplateError
from transformers import PreTrainedTokenizerBase

from plot_lightning.data.errors import RowProblem

log = logging.getLogger(__name__)
IGNORE_INDEX = -100
CHARS_PER_TOKEN = 32  # first character cut per token of max_length (BPE tokens rarely exceed 16 characters)
SPARE_TOKENS = 16  # tokens past the cut that must be dropped anyway for the cut to be invisible


class ChatEncoder:
    """Encode conversations for causal-LM training with prompt tokens masked in ``labels``.

    Args:
        tokenizer: a Hugging Face tokenizer (with or without a chat template).
        max_length: the most tokens of prompt + response kept per sequence.
        max_prompt_length: the most prompt tokens kept (from the right); None keeps the whole prompt.
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, max_length: int, max_prompt_length: int | None = None
    ) -> None:
        self.check_lengths(max_length, max_prompt_length)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_prompt_length = max_prompt_length
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        bos = tokenizer.bos_token_id
        self._bos = bos if bos is not None and tokenizer("a")["input_ids"][:1] == [bos] else None
        self._warned_prefix = False

    @staticmethod
    def check_lengths(max_length: int, max_prompt_length: int | None) -> None:
        """Raise ValueError unless ``max_length >= 2`` and ``1 <= max_prompt_length < max_length``."""
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        if max_prompt_length is not None and not 1 <= max_prompt_length < max_length:
            raise ValueError(
                f"max_prompt_length must be in [1, max_length={max_length}), got {max_prompt_length}"
            )

    def _ids(self, text: str, *, with_bos: bool = True) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if with_bos and self._bos is not None and ids[:1] != [self._bos]:
            ids = [self._bos, *ids]
        return ids

    def _render(self, prompt: list[dict[str, str]], response: str) -> tuple[str, str]:
        """Return (prompt text with generation prompt, whole conversation text)."""
        if not self.has_template:
            prompt_text = "".join(f"{m['role']}: {m['content']}\n\n" for m in prompt) + "assistant: "
            return prompt_text, prompt_text + response + (self.tokenizer.eos_token or "")
        conversation = [*prompt, {"role": "assistant", "content": response}]
        try:
            full = self.tokenizer.apply_chat_template(conversation, tokenize=False)
            prompt_text = self.tokenizer.apply_chat_template(
                prompt, tokenize=False, add_generation_prompt=True
            )
        except TemplateError as error:  # e.g. Gemma's template: no system role after the first turn
            raise RowProblem(
                "prompt", f"the tokenizer's chat template refuses this conversation: {error}"
            ) from None
        return prompt_text, full

    def _prompt_length(self, prompt_ids: list[int], full_ids: list[int]) -> int:
        if full_ids[: len(prompt_ids)] == prompt_ids:
            return len(prompt_ids)
        common = next(
            (i for i, (a, b) in enumerate(zip(prompt_ids, full_ids, strict=False)) if a != b), len(prompt_ids)
        )
        if not self._warned_prefix:
            log.warning(
                "the chat template's prompt (add_generation_prompt=True) is not a token prefix of the whole "
                "conversation; masking the first %d tokens (their common prefix) instead",
                common,
            )
            self._warned_prefix = True
        return common

    def encode(self, prompt: list[dict[str, str]], response: str, field: str) -> dict[str, list[int]]:
        """Return ``{"input_ids": [...], "labels": [...]}`` (labels -100 on prompt tokens).

        ``field`` names the response column in errors. Raises RowProblem when no response token fits.
        """
        limit = self.max_length * CHARS_PER_TOKEN
        while True:
            text = response if len(response) <= limit else response[:limit]
            encoded, dropped = self._encode(prompt, text, field)
            if text is response or dropped >= SPARE_TOKENS:
                return encoded
            limit *= 4

    def _encode(
        self, prompt: list[dict[str, str]], response: str, field: str
    ) -> tuple[dict[str, list[int]], int]:
        """``(encoded, number of response tokens cut off to fit max_length)``."""
        prompt_text, full_text = self._render(prompt, response)
        full_ids = self._ids(full_text)
        prompt_length = self._prompt_length(self._ids(prompt_text), full_ids)
        prompt_ids, response_ids = full_ids[:prompt_length], full_ids[prompt_length:]
        if not response_ids:
            raise RowProblem(field, "the response renders to no tokens")
        if self.max_prompt_length is not None:
            prompt_ids = prompt_ids[-self.max_prompt_length :]
        room = self.max_length - len(prompt_ids)
        if room < 1:
            raise RowProblem(
                "prompt",
                f"cannot fit: the prompt has {len(prompt_ids)} tokens and max_length={self.max_length} "
                "leaves no room for a response token (set max_prompt_length to left-truncate prompts)",
            )
        dropped = max(len(response_ids) - room, 0)
        response_ids = response_ids[:room]
        encoded = {
            "input_ids": prompt_ids + response_ids,
            "labels": [IGNORE_INDEX] * len(prompt_ids) + response_ids,
        }
        return encoded, dropped
