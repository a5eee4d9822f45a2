"""Pilot, then data, for the arithmetic experiment: one seeded recipe, written with checksums.

1. **Pilot.** Greedy accuracy of the base model on ``pilot_prompts`` problems of each candidate operation,
   with a Wilson interval. The operation chosen is the one whose accuracy lies in ``band`` (default 30-70%:
   room to improve and to get worse) nearest the band's middle, among the operations with enough distinct
   problems for the three sets (``add2x1`` has 720: too few for 400 held-out plus 300 training prompts); with
   none in the band the recipe stops and says so, since a task the model always or never solves cannot show
   a training effect.
2. **Data**, for the chosen operation, as three disjoint sets of problems: ``train`` (on-policy pairs: the
   base model's own samples, a correct one against a wrong one), ``validation`` (pairs the same way, logged
   during training only) and ``heldout`` (prompts with their exact answers, for greedy accuracy). No problem
   appears in two sets.

Files written to ``out_dir``: ``pilot.json``, ``train.jsonl``, ``validation.jsonl``, ``heldout.jsonl``,
``summary.json`` (settings, counts, the chosen operation) and ``SHA256SUMS``. Each is written to a temporary
name and renamed, so a crash leaves no half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from experiments.arithmetic_data import greedy_correct, onpolicy_pairs
from experiments.arithmetic_task import capacity, problems, worked_examples
from experiments.contrasts import wilson_interval


class PilotStop(RuntimeError):
    """No candidate operation has a pilot accuracy inside the band."""


@dataclass(frozen=True)
class ArithmeticSettings:
    """The recipe's settings; every one is recorded in ``summary.json``."""

    candidates: tuple[str, ...] = ("add2x2", "add2x1", "mul2x1", "add3x1")
    pilot_prompts: int = 80
    band: tuple[float, float] = (0.3, 0.7)
    shots: int = 2
    train_prompts: int = 300
    validation_prompts: int = 40
    heldout_prompts: int = 400
    samples: int = 8
    temperature: float = 1.0
    max_new_tokens: int = 4
    gold_chosen: bool = False  # pair the exact answer against a wrong sample when no sample is right
    seed: int = 0
    operation: str | None = None  # skip the pilot's choice (the pilot still runs and is recorded)


def run_pilot(model, tokenizer, settings: ArithmeticSettings) -> dict[str, Any]:
    """``{"operations": {op: {correct, n, accuracy, wilson}}, "chosen": op}``; PilotStop when none fits."""
    results = {}
    needed = settings.heldout_prompts + settings.validation_prompts + settings.train_prompts + settings.shots
    for operation in settings.candidates:
        shots = worked_examples(operation, settings.shots, settings.seed)
        pilot = problems(operation, settings.pilot_prompts, seed=settings.seed + 1_000, shots=shots)
        correct = sum(greedy_correct(model, tokenizer, pilot, max_new_tokens=settings.max_new_tokens))
        low, high = wilson_interval(correct, len(pilot))
        results[operation] = {
            "correct": correct,
            "n": len(pilot),
            "accuracy": correct / len(pilot),
            "wilson": [low, high],
            "problems": capacity(operation),
            "enough_problems": capacity(operation) >= needed,
        }
    lower, upper = settings.band
    inside = [op for op, r in results.items() if lower <= r["accuracy"] <= upper and r["enough_problems"]]
    chosen = settings.operation or min(
        inside, key=lambda op: abs(results[op]["accuracy"] - (lower + upper) / 2), default=None
    )
    if chosen is None:
        found = ", ".join(f"{op} {r['correct']}/{r['n']}" for op, r in results.items())
        raise PilotStop(
            f"no candidate operation with at least {needed} distinct problems has a greedy accuracy in "
            f"[{lower}, {upper}] ({found}): change the candidates"
        )
    return {"operations": results, "chosen": chosen}


def _write(path: Path, text: str) -> str:
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)


def prepare_arithmetic(model, tokenizer, settings: ArithmeticSettings, out_dir: str | Path) -> dict[str, Any]:
    """Run the pilot and write the three data sets; returns the summary (also in ``summary.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pilot = run_pilot(model, tokenizer, settings)
    operation = pilot["chosen"]
    shots = worked_examples(operation, settings.shots, settings.seed)
    heldout = problems(operation, settings.heldout_prompts, seed=settings.seed, shots=shots)
    used = {p.key for p in heldout}
    validation = problems(
        operation, settings.validation_prompts, seed=settings.seed + 1, exclude=used, shots=shots
    )
    used |= {p.key for p in validation}
    train = problems(operation, settings.train_prompts, seed=settings.seed + 2, exclude=used, shots=shots)
    sampling = {
        "samples": settings.samples,
        "temperature": settings.temperature,
        "max_new_tokens": settings.max_new_tokens,
        "gold_chosen": settings.gold_chosen,
    }
    train_pairs, train_counts = onpolicy_pairs(model, tokenizer, train, seed=settings.seed, **sampling)
    val_pairs, val_counts = onpolicy_pairs(model, tokenizer, validation, seed=settings.seed + 1, **sampling)
    heldout_rows = [
        {
            "prompt": p.messages(),
            "prefill": p.prefill(),
            "answer": p.answer,
            "response": p.response(p.answer),
            "source_id": p.key,
        }
        for p in heldout
    ]
    sums = {
        "pilot.json": _write(out / "pilot.json", json.dumps(pilot, indent=2) + "\n"),
        "train.jsonl": _write(out / "train.jsonl", _jsonl(train_pairs)),
        "validation.jsonl": _write(out / "validation.jsonl", _jsonl(val_pairs)),
        "heldout.jsonl": _write(out / "heldout.jsonl", _jsonl(heldout_rows)),
    }
    summary = {
        "operation": operation,
        "settings": asdict(settings),
        "train": train_counts,
        "validation": val_counts,
        "heldout": {"prompts": len(heldout)},
        "shots": [p.key for p in shots],
        "problems": {
            name: [p.key for p in group]
            for name, group in (("train", train), ("validation", validation), ("heldout", heldout))
        },
        "sha256": sums,
    }
    sums["summary.json"] = _write(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    _write(out / "SHA256SUMS", "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())))
    return summary
