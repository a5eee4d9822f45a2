"""Length-grouped batching vs plain shuffled batches: tokens/s and padding fraction on a real data mix.

How to run (idle machine; timings are refused under load):

    .venv/bin/python benchmarks/length_grouping.py --model smollm2-135m-instruct --pairs 16 --batch-size 4 \
        --max-length 256 --rounds 2 --threads 2
    .venv/bin/python benchmarks/length_grouping.py --model tiny --pairs 8 --rounds 1 --threads 1   # smoke

The same ``--pairs`` pairs (a seeded sample of the mix) go through one epoch of DPO + 0.1 PLOT dirac training
(``PLOTModule`` in a Lightning ``Trainer``, AdamW) with ``group_by_length`` false and true, alternating
(round r runs plain then grouped for even r, grouped then plain for odd r), so drift hits both alike. Both
modes train on exactly the same pairs, hence the same non-padding tokens: the tokens/s ratio is the inverse
of the epoch-time ratio, and the padding fraction (padded positions / all positions, chosen and rejected
rows) is deterministic. Default mix: the committed real samples (hh-rlhf helpful and harmless, GSM8K, MBPP,
TruthfulQA; see plot_lightning/data/samples/LICENSES.md); ``--data`` takes other files (e.g. from the data root).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine_load import LoadProbe  # noqa: E402

DEFAULT_MIX = "sample:hh-helpful,sample:hh-harmless,sample:gsm8k,sample:code-mbpp,sample:truthfulqa"
MODES = ("plain", "grouped")


def _recorder():
    import lightning.pytorch as pl

    class EpochRecorder(pl.Callback):
        """Per training step: wall seconds, non-padding tokens and all positions of the batch."""

        def __init__(self) -> None:
            self.step_s: list[float] = []
            self.tokens, self.positions = 0, 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.tokens += int(batch["attention_mask"].sum())
            self.positions += batch["attention_mask"].numel()
            self._start = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.step_s.append(time.perf_counter() - self._start)

    return EpochRecorder()


def datamodule(args, grouped: bool):
    """The mix, tokenised, cut to the same seeded ``args.pairs`` pairs for both modes."""
    from plot_lightning.data.datamodule import PreferenceDataModule

    data = PreferenceDataModule(
        args.data.split(","),
        tokenizer=args.model,
        max_length=args.max_length,
        max_prompt_length=args.max_length // 2,
        batch_size=args.batch_size,
        seed=0,
        group_by_length=grouped,
    )
    data.setup("fit")
    total = len(data.train_dataset)
    if total < args.pairs:
        raise SystemExit(f"{args.data}: {total} pairs, need --pairs {args.pairs}")
    picked = sorted(random.Random(0).sample(range(total), args.pairs))
    data.train_dataset = data.train_dataset.select(picked)  # setup() keeps it (it runs once)
    return data


def one_epoch(args, grouped: bool) -> dict:
    import lightning.pytorch as pl

    from plot_lightning.module import PLOTModule

    torch.manual_seed(0)
    module = PLOTModule(model=args.model, losses=["dpo", "plot"], weights=[1.0, 0.1])
    recorder = _recorder()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[recorder],
    )
    trainer.fit(module, datamodule=datamodule(args, grouped))
    return {"step_s": recorder.step_s, "tokens": recorder.tokens, "positions": recorder.positions}


def print_table(results: dict[str, list[dict]], quiet: bool, reason: str) -> None:
    print(f"\nmachine: {reason}")
    if not quiet:
        print("TIMINGS REFUSED: the machine was loaded; only the padding fractions are reported.")
    print(f"{'mode':>8s} {'steps':>6s} {'tokens':>8s} {'padding':>8s} {'epoch s':>9s} {'tokens/s':>9s}")
    rates = {}
    for mode in MODES:
        runs = results[mode]
        epoch = statistics.median(sum(run["step_s"]) for run in runs)
        tokens, positions = runs[0]["tokens"], runs[0]["positions"]
        rates[mode] = tokens / epoch
        timing = f"{epoch:9.2f} {rates[mode]:9.1f}" if quiet else f"{'refused':>9s} {'refused':>9s}"
        print(f"{mode:>8s} {len(runs[0]['step_s']):6d} {tokens:8d} {1 - tokens / positions:8.3f} {timing}")
    if results["plain"][0]["tokens"] != results["grouped"][0]["tokens"]:
        raise AssertionError("the two modes trained on different tokens: not the same pairs")
    if quiet:
        print(f"tokens/s ratio grouped / plain: {rates['grouped'] / rates['plain']:.3f}")
    print(
        "tokens: non-padding tokens of the epoch (chosen + rejected rows; the same in both modes, asserted);"
    )
    print("padding: 1 - tokens / all batch positions; epoch s: median over rounds of the summed step times.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--data", default=DEFAULT_MIX, help="comma-separated data files or sample: names")
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--max-load", type=float, default=0.5, help="refuse timings above this load average")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import lightning
    import transformers

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"lightning {lightning.__version__}; threads {torch.get_num_threads()} "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}); {platform.machine()}"
    )
    print(f"settings: {vars(args)}; losses dpo + 0.1 plot (dirac), AdamW defaults, seed 0, fp32")
    probe = LoadProbe(max_load=args.max_load)
    print(probe.describe())
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for round_index in range(args.rounds):
        order = MODES if round_index % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            run = probe.measure(lambda m=mode: one_epoch(args, m == "grouped"))
            results[mode].append(run)
            print(f"  round {round_index} {mode}: {len(run['step_s'])} steps", flush=True)
    quiet, reason = probe.verdict()
    print_table(results, quiet, reason)


if __name__ == "__main__":
    main()
