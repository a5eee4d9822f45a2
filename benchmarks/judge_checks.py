"""Accuracy checks of the rule-based judges (not timings): the math judge on GSM8K and on the LaTeX answer
set, the refusal rules on the labelled list.

    python benchmarks/judge_checks.py [--gsm8k DATA/gsm8k/test.jsonl] [--limit N]

GSM8K: for every test row, the gold final number must be recognised in the full gold solution and in
"The answer is \\boxed{<gold>}"; perturbed answers (gold + 1, gold * 10, -gold) must be rejected. Prints
counts for the math judge (math-verify) and the numeric gsm8k judge side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from plot_eval.judges.gsm8k import extract_final_number, gsm8k_correct  # noqa: E402
from plot_eval.judges.math_answer import math_correct  # noqa: E402
from plot_eval.judges.refusal import refusal_label  # noqa: E402

DATA = REPO / "tests" / "eval" / "judges" / "data"


def _perturbed(gold: str) -> list[str]:
    value = Decimal(gold)
    return [str(value + 1), str(value * 10), str(-value)] if value != 0 else ["1", "-1", "10"]


def gsm8k_check(path: Path, limit: int | None) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][:limit]
    counts = {
        judge: {"solution": 0, "boxed": 0, "rejected": 0, "perturbed": 0} for judge in ("math", "gsm8k")
    }
    checks = {"math": math_correct, "gsm8k": gsm8k_correct}
    for row in rows:
        gold = extract_final_number(row["answer"])
        for name, check in checks.items():
            counts[name]["solution"] += check(row["answer"].replace("####", "The answer is"), gold)
            counts[name]["boxed"] += check(f"The answer is \\boxed{{{gold}}}.", gold)
            for wrong in _perturbed(gold):
                counts[name]["perturbed"] += 1
                counts[name]["rejected"] += not check(f"The answer is \\boxed{{{wrong}}}.", gold)
    print(f"GSM8K {path} ({len(rows)} rows)")
    for name, c in counts.items():
        print(f"  {name:6s} gold in solution {c['solution']}/{len(rows)}  boxed gold {c['boxed']}/{len(rows)}  "
              f"perturbed rejected {c['rejected']}/{c['perturbed']}")  # fmt: skip


def latex_check() -> None:
    rows = [json.loads(line) for line in (DATA / "math_answers.jsonl").open()]
    good = [(r["gold"], a) for r in rows for a in r["equivalent"]]
    bad = [(r["gold"], a) for r in rows for a in r["perturbed"]]
    for name, check in (("math", math_correct), ("gsm8k", _safe_gsm8k)):
        recognised = sum(check(a, g) is True for g, a in good)
        rejected = sum(check(a, g) is False for g, a in bad)
        print(f"LaTeX set ({len(rows)} golds) {name:6s}: equivalent recognised {recognised}/{len(good)}, "
              f"perturbed rejected {rejected}/{len(bad)}")  # fmt: skip


def _safe_gsm8k(answer: str, gold: str):
    try:
        return gsm8k_correct(answer, gold)
    except ValueError:
        return None  # a gold without a number: the numeric judge cannot judge it


def refusal_check() -> None:
    cases = [json.loads(line) for line in (DATA / "refusal_cases.jsonl").open()]
    wrong = [c for c in cases if refusal_label(c["text"]) != c["label"]]
    by_label = {
        label: sum(c["label"] == label for c in cases) for label in ("refusal", "compliance", "non_answer")
    }
    print(f"refusal rules on {len(cases)} labelled cases {by_label}: {len(cases) - len(wrong)} right")
    for case in wrong:
        print(f"  wrong: {case['label']} -> {refusal_label(case['text'])}: {case['text'][:70]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gsm8k", default=str(REPO.parent / "shared" / "data" / "gsm8k" / "test.jsonl"))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if Path(args.gsm8k).is_file():
        gsm8k_check(Path(args.gsm8k), args.limit)
    latex_check()
    refusal_check()


if __name__ == "__main__":
    main()
