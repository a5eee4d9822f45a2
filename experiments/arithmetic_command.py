"""``python -m experiments arithmetic-data`` and ``arithmetic-run``: the arithmetic experiment's pilot and data
(:mod:`.arithmetic_prepare`), then its gate, grid and analysis (:mod:`.arithmetic_run`).

    python -m experiments arithmetic-data --out data/arithmetic            # SmolLM2-135M-Instruct, default settings
    python -m experiments arithmetic-data --model tiny --out /tmp/a --band 0 1 --train-prompts 8   # the test-sized run

Exit 3 with one line when the pilot finds no candidate operation inside the band.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.arithmetic_prepare import ArithmeticSettings, PilotStop, prepare_arithmetic

DEFAULTS = ArithmeticSettings()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments arithmetic-data", description="the arithmetic experiment's pilot and data"
    )
    parser.add_argument(
        "--model", default="smollm2-135m-instruct", help="model spec (a folder, or a known name)"
    )
    parser.add_argument("--out", required=True, help="folder for pilot.json, train/validation/heldout.jsonl")
    parser.add_argument(
        "--candidates", nargs="+", default=list(DEFAULTS.candidates), help="operations to pilot"
    )
    parser.add_argument("--operation", default=None, help="use this operation whatever the pilot finds")
    parser.add_argument(
        "--band", nargs=2, type=float, default=list(DEFAULTS.band), help="accepted pilot accuracy"
    )
    for name in (
        "pilot_prompts",
        "shots",
        "train_prompts",
        "validation_prompts",
        "heldout_prompts",
        "samples",
        "seed",
    ):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(DEFAULTS, name))
    parser.add_argument("--temperature", type=float, default=DEFAULTS.temperature)
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULTS.max_new_tokens)
    parser.add_argument(
        "--gold-chosen",
        action="store_true",
        help="pair the exact answer against a wrong sample when no sample is right (off-policy chosen)",
    )
    return parser


def arithmetic_data_command(argv: list[str]) -> None:
    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    args = _parser().parse_args(argv)
    settings = ArithmeticSettings(
        candidates=tuple(args.candidates),
        operation=args.operation,
        band=tuple(args.band),
        pilot_prompts=args.pilot_prompts,
        shots=args.shots,
        train_prompts=args.train_prompts,
        validation_prompts=args.validation_prompts,
        heldout_prompts=args.heldout_prompts,
        samples=args.samples,
        seed=args.seed,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        gold_chosen=args.gold_chosen,
    )
    model, tokenizer = load_causal_lm(args.model), load_tokenizer(args.model)
    try:
        summary = prepare_arithmetic(model, tokenizer, settings, args.out)
    except PilotStop as stop:
        print(f"python -m experiments arithmetic-data: {stop}", file=sys.stderr)
        raise SystemExit(3) from None
    print(
        f"{summary['operation']}: {summary['train']['pairs'] + summary['train']['gold_pairs']} training pairs from {summary['train']['prompts']} "
        f"prompts, {summary['validation']['pairs'] + summary['validation']['gold_pairs']} validation pairs, {summary['heldout']['prompts']} held-out "
        f"prompts -> {args.out}"
    )


def arithmetic_run_command(argv: list[str]) -> None:
    """``python -m experiments arithmetic-run --config configs/experiments/arithmetic.yaml``: gate, grid, analysis.

    Exit 3 with one line when the gate stops the run; exit 2 on a bad config.
    """
    from experiments.arithmetic_analysis import analyse
    from experiments.arithmetic_config import load_arithmetic_config
    from experiments.arithmetic_report import write_outputs
    from experiments.arithmetic_run import GateStop, run_arithmetic
    from experiments.config import ExperimentConfigError

    parser = argparse.ArgumentParser(
        prog="python -m experiments arithmetic-run", description="gate, grid and analysis"
    )
    parser.add_argument("--config", required=True, help="an arithmetic experiment YAML")
    parser.add_argument("--data-dir", default=None, help="the folder written by arithmetic-data (overrides)")
    parser.add_argument("--out-dir", default=None, help="where cells and results go (overrides)")
    args = parser.parse_args(argv)
    try:
        config = load_arithmetic_config(args.config)
    except ExperimentConfigError as error:
        print(f"python -m experiments arithmetic-run: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.data_dir:
        config.data_dir = str(Path(args.data_dir).resolve())
    if args.out_dir:
        config.out_dir = str(Path(args.out_dir).resolve())
    try:
        run = run_arithmetic(config)
    except GateStop as stop:
        print(f"python -m experiments arithmetic-run: {stop}", file=sys.stderr)
        raise SystemExit(3) from None
    results = analyse(config) | {"gate": run["gate"], "seconds": run["seconds"]}
    written = write_outputs(config, results)
    print(
        f"[arithmetic] {results['verdict']}\n[arithmetic] report: {written['report']} ({run['seconds']:.0f} s)"
    )
