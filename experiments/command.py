"""Command lines: ``python -m experiments grid ...`` and ``diagnose ...`` (argparse, no Lightning
import until a cell trains)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def grid_command(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m experiments grid",
        description="Train, export, measure and evaluate a grid of methods x seeds (x sweeps) per category, "
        "resumably; then build the table, paired differences and charts from the finished cells.",
    )
    parser.add_argument(
        "--config", required=True, help="experiment YAML, e.g. configs/experiments/cpu_small.yaml"
    )
    parser.add_argument("--list-cells", action="store_true", help="print the cells (index, status) and exit")
    parser.add_argument("--cell", type=int, action="append", help="run only cell N (repeatable; 0-based)")
    parser.add_argument("--collect", action="store_true", help="only build the results from finished cells")
    parser.add_argument("--data-root", default=None, help="public datasets folder for recipe categories")
    args = parser.parse_args(argv)
    from experiments.config import ExperimentConfigError, load_experiment_config

    try:
        load_experiment_config(args.config)  # a bad file: one line naming it and the key, before any work
    except ExperimentConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    from experiments.collect import collect
    from experiments.experiment import list_cells, load_experiment, run_experiment

    if args.list_cells or args.collect:
        experiment = load_experiment(args.config, args.data_root)
        if args.list_cells:
            print(list_cells(experiment))
        if args.collect:
            tracker = experiment.tracker()
            collect(experiment.config, experiment.cells, tracker)
            tracker.finish()
        return
    # One cell of a cluster array collects nothing: run --collect once the array has finished.
    _, failures = run_experiment(
        args.config, cells=args.cell, data_root=args.data_root, collect_results=args.cell is None
    )
    if failures:
        for cell, error in failures:
            print(f"failed: cell {cell.index} ({cell.describe()}): {error.splitlines()[0]}", file=sys.stderr)
        sys.exit(1)


def diagnose_command(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m experiments diagnose",
        description="Next-token mass relative to the target token, before vs after training: top tokens with "
        "probability and cosine cost to the target, p(target) and W = E_p[cost]. Models: Hugging Face folders, "
        "model specs or training checkpoints (exported on the fly).",
    )
    parser.add_argument("--before", required=True, help="the reference / untrained model (cost embedding)")
    parser.add_argument("--after", action="append", required=True, help="a trained model (repeatable)")
    parser.add_argument("--label", action="append", help="label per --after (default: folder name)")
    parser.add_argument("--pairs", required=True, help="preference pairs file (or sample:<name>)")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--out", default="diagnostic", help="folder for diagnostic.md and diagnostic.png")
    args = parser.parse_args(argv)
    from experiments.diagnose import diagnose_models, model_source
    from experiments.diagnostic_report import diagnostic_chart, diagnostic_markdown
    from plot_lightning.data.pair_batches import load_pair_records
    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    labels = args.label or [Path(a).name for a in args.after]
    if len(labels) != len(args.after):
        parser.error("give one --label per --after")
    with tempfile.TemporaryDirectory() as scratch:
        before = model_source(args.before, Path(scratch))
        reference, tokenizer = load_causal_lm(before), load_tokenizer(before)
        models = {
            label: load_causal_lm(model_source(spec, Path(scratch)))
            for label, spec in zip(labels, args.after, strict=True)
        }
        records = load_pair_records([args.pairs], args.prompts)
        entries = diagnose_models(
            models,
            reference,
            tokenizer,
            records,
            n_prompts=args.prompts,
            top_k=args.top_k,
            max_length=args.max_length,
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    title = "next-token mass vs cost to the target"
    (out / "diagnostic.md").write_text(diagnostic_markdown(entries, title) + "\n", encoding="utf-8")
    diagnostic_chart(entries, out / "diagnostic.png", title)
    print(f"wrote {out / 'diagnostic.md'} and {out / 'diagnostic.png'}")
