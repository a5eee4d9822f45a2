"""Check of the code judge on whole datasets (not a timing): every reference solution must be judged
correct, and a wrong answer (the entry point returning None) incorrect.

    python benchmarks/code_judge_check.py --humaneval HumanEval.jsonl.gz --mbpp mbpp.jsonl [--workers 2]

Items come from the repository's own loaders (all four MBPP splits), so the entry point and reference
solution are exactly what an evaluation uses. Prints counts and every task that does not behave.
"""

from __future__ import annotations

import argparse
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from plot_eval.judges.base import JudgeContext  # noqa: E402
from plot_eval.judges.code_judge import CodeExecJudge, CodeExecSettings  # noqa: E402
from plot_eval.sources import humaneval, mbpp  # noqa: E402


def _wrong(item) -> str:
    return f"```python\ndef {item.reference['entry_point']}(*args, **kwargs):\n    return None\n```"


def _outcome(judge: CodeExecJudge, item, answer: str) -> dict:
    judge.check(item)
    return judge.outcome(item, "", answer)


def check(name: str, items: list, workers: int, timeout_s: float) -> None:
    judge = CodeExecJudge(CodeExecSettings(timeout_s=timeout_s), JudgeContext(pool=None))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        right = list(pool.map(lambda i: _outcome(judge, i, i.reference["reference_solution"]), items))
        wrong = list(pool.map(lambda i: _outcome(judge, i, _wrong(i)), items))
    passed = sum(o["label"] == "correct" for o in right)
    rejected = sum(o["label"] == "incorrect" for o in wrong)
    print(
        f"{name}: reference solutions correct {passed}/{len(items)}; wrong answers rejected {rejected}/{len(items)}"
    )
    for item, outcome in zip(items, right, strict=True):
        if outcome["label"] != "correct":
            print(
                f"  reference not correct: {item.id} (judged={outcome['judged']}): {outcome['reason'][:200]}"
            )
    for item, outcome in zip(items, wrong, strict=True):
        if outcome["label"] != "incorrect":
            print(f"  wrong answer accepted: {item.id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--humaneval", type=Path, help="HumanEval.jsonl(.gz)")
    parser.add_argument("--mbpp", type=Path, help="mbpp.jsonl (all 974 rows)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--only", default="", help="a regular expression on item ids")
    args = parser.parse_args()
    chosen = re.compile(args.only)
    if args.humaneval:
        items = [i for i in humaneval.load(args.humaneval) if chosen.search(i.id)]
        check("HumanEval", items, args.workers, args.timeout_s)
    if args.mbpp:
        items = [i for split in mbpp.SPLITS for i in mbpp.load(args.mbpp, split=split) if chosen.search(i.id)]
        check("MBPP", items, args.workers, args.timeout_s)


if __name__ == "__main__":
    main()
