"""The judging prompt shared by the LLM judges (local causal LM and OpenAI-compatible endpoint).

Modelled on the MT-Bench pairwise prompt (Zheng et al. 2023), shortened for small judges: the verdict
is a single letter, so a causal LM can be scored on the log-probabilities of "A" and "B" directly.
"""

from __future__ import annotations

JUDGE_INSTRUCTION = (
    "You are a fair judge. Compare the two assistant responses to the user's question below and decide "
    "which one is more helpful, honest, harmless and correct. Ignore the order in which they appear and "
    "their length. Answer with a single letter: A if Response A is better, B if Response B is better"
)

_LAYOUT = (
    "{instruction}{tie_option}.\n\n[Question]\n{prompt}\n\n"
    "[Response A]\n{response_a}\n\n[Response B]\n{response_b}"
)


def judge_messages(prompt: str, response_a: str, response_b: str, *, allow_tie: bool = False) -> list[dict]:
    """Chat messages asking for the verdict letter; ``allow_tie`` adds the option to answer "tie"."""
    content = _LAYOUT.format(
        instruction=JUDGE_INSTRUCTION,
        tie_option=", or tie if they are equally good" if allow_tie else "",
        prompt=prompt,
        response_a=response_a,
        response_b=response_b,
    )
    return [{"role": "user", "content": content}]
