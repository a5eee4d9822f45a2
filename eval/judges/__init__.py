"""Judges: pairwise (local LM, OpenAI-compatible endpoint, reward model) and programmatic (GSM8K exact
match, code execution in a sandbox, refusal detection)."""

from eval.judges.base import PairwiseJudge, pairwise_score, programmatic_win
from eval.judges.code_exec import code_passes
from eval.judges.gsm8k import extract_final_number, gsm8k_correct
from eval.judges.local_lm import LocalLMJudge
from eval.judges.openai_compat import JudgeUnavailableError, OpenAIJudge
from eval.judges.refusal import is_refusal
from eval.judges.reward_model import RewardModelJudge
from eval.judges.sandbox import SandboxResult, SandboxUnavailableError, run_python, run_tests

__all__ = [
    "JudgeUnavailableError",
    "LocalLMJudge",
    "OpenAIJudge",
    "PairwiseJudge",
    "RewardModelJudge",
    "SandboxResult",
    "SandboxUnavailableError",
    "code_passes",
    "extract_final_number",
    "gsm8k_correct",
    "is_refusal",
    "pairwise_score",
    "programmatic_win",
    "run_python",
    "run_tests",
]
