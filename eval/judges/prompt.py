"""The judging prompts of the LLM judges; their text is part of each judge's identity (cache keys).

`judge_messages` asks for a single verdict letter (the local judge reads the logits of "A" and "B");
`verdict_messages` is the MT-Bench pairwise format (Zheng et al. 2023) for judges that write text."""

from __future__ import annotations

import re

JUDGE_INSTRUCTION = (
    "You are a fair judge. Compare the two assistant responses to the user's question below and decide "
    "which one is more helpful, honest, harmless and correct. Ignore the order in which they appear and "
    "their length. Answer with a single letter: A if Response A is better, B if Response B is better"
)

_LAYOUT = "{instruction}.\n\n[Question]\n{prompt}\n\n[Response A]\n{response_a}\n\n[Response B]\n{response_b}"

VERDICT_INSTRUCTION = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. Choose the assistant that follows the user's "
    "instructions and answers the user's question better, considering helpfulness, relevance, accuracy, "
    "depth and harmlessness. Avoid any position bias: the order in which the responses were presented must "
    "not influence your decision. Do not let the length of the responses influence you. Be as objective as "
    "possible. After a short explanation, output your final verdict by strictly following this format: "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
)

_VERDICT_LAYOUT = (
    "[User Question]\n{prompt}\n\n[The Start of Assistant A's Answer]\n{response_a}\n"
    "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{response_b}\n"
    "[The End of Assistant B's Answer]"
)
_VERDICT_TAG = re.compile(r"\[\[\s*([ABC])\s*\]\]")
_VERDICT_VALUE = {"A": 1.0, "B": 0.0, "C": 0.5}
VERDICT_FORMAT_VERSION = "mt-bench-[[ABC]]-v1"


def judge_messages(prompt: str, response_a: str, response_b: str) -> list[dict]:
    """Chat messages asking for the verdict letter."""
    content = _LAYOUT.format(
        instruction=JUDGE_INSTRUCTION, prompt=prompt, response_a=response_a, response_b=response_b
    )
    return [{"role": "user", "content": content}]


def verdict_messages(prompt: str, response_a: str, response_b: str) -> list[dict]:
    """MT-Bench pairwise judging chat: system instruction, then question and both answers."""
    content = _VERDICT_LAYOUT.format(prompt=prompt, response_a=response_a, response_b=response_b)
    return [{"role": "system", "content": VERDICT_INSTRUCTION}, {"role": "user", "content": content}]


def parse_verdict(text: str) -> float | None:
    """1.0 for ``[[A]]``, 0.0 for ``[[B]]``, 0.5 for ``[[C]]``; None (invalid) for anything else.

    Invalid: no tag, or tags naming different verdicts (``"[[A]] ... no, [[B]]"``). Free text such as
    "A is better" or "It is a tie" is invalid by design: the article "a" must never read as a verdict.
    Whitespace inside the brackets and case are not tolerated beyond ``[[ A ]]``.
    """
    tags = set(_VERDICT_TAG.findall(text or ""))
    if len(tags) != 1:
        return None
    return _VERDICT_VALUE[tags.pop()]
