"""Side by side with TRL 1.16's DPOTrainer: correctness per step, then speed and peak memory.

How to run (CPU, fp32; TRL is in the dev extra):

    # correctness: same model, same tokenised pairs in the same order (asserted), same AdamW (the fused kernel,
    # TRL's default; asserted in each speed process with the checkpointing setting)/lr/seed/batch,
    # dropout off, N steps; per-step loss and TRL metrics within the stated tolerance, step 0 = ln 2 in both
    .venv/bin/python benchmarks/vs_trl.py correctness --model tiny --steps 4 --pairs 2
    .venv/bin/python benchmarks/vs_trl.py correctness --model smollm2-135m-instruct --steps 10 --pairs 2

    # speed + memory (idle machine only: timings are refused under load), each run in its own process, with
    # gradient checkpointing off and on in both libraries (TRL's DPOConfig defaults it to on: always set here)
    .venv/bin/python benchmarks/vs_trl.py speed --model smollm2-135m-instruct --shapes 2x256,4x1024 --rounds 3
    .venv/bin/python benchmarks/vs_trl.py speed --model random-128k --shapes 2x256,4x1024 --rounds 3
    # Gemma 3 270M's shape (V = 262,144, tied embeddings), random weights; on a GPU: --device cuda
    .venv/bin/python benchmarks/vs_trl.py speed --model random-gemma3-270m --shapes 2x256,4x1024 \
        --configs trl,fused_dpo,fused --checkpointing on --rounds 4 --markdown t.md --json t.json

Configurations: ``trl`` (TRL DPO), ``dpo`` (ours, DPO), ``dpo_plot`` (ours, DPO + 0.1 PLOT dirac, unfused),
``fused`` (ours, DPO + 0.1 PLOT dirac, ``fused_head=True``), ``fused_dpo`` (ours, DPO, ``fused_head=True``;
``correctness --config fused_dpo`` checks the fused head against TRL), ``shared`` and ``shared_dpo`` (``fused``
and ``fused_dpo`` with ``prefix_sharing=True``: one packed pass per pair); the others ``prefix_sharing=False``.
``--lengths sample`` (default) gives each pair the prompt/chosen/rejected proportions of a committed demo pair
(prompts 59% of the tokens at SmolLM2's chat template; ``random-*`` models, whose tokenizer is a stub, take
SmolLM2's committed counts: ``demo_lengths.py``), scaled so its longer row is the shape's length;
``uniform``, every row the full length with a quarter prompt. Tokens/s counts real tokens (no padding). ``random-*`` models (``random-smollm2``,
``random-128k``, ``random-gemma3-270m``, see ``random_models.py``) are random weights of real shapes, written
once under ``--work-dir``: right for speed and memory, not for the correctness table.

After the table, every ratio is given per round with its median, half-range and verdict (``round_ratios.py``:
resolved only when the half-range is smaller than the distance of the median from 1), including what PLOT
adds over plain DPO with the same head (``fused / fused_dpo``) and the fused head against the unfused one
(``fused / dpo_plot``). On CUDA the clocks synchronise the device and the memory column is CUDA's allocated peak.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine_load import LoadProbe  # noqa: E402

# The sides (Lightning, TRL, the models) are imported where used: building the parser stays light.

CONFIGS = ("trl", "dpo", "dpo_plot", "fused", "fused_dpo", "shared", "shared_dpo")
LOSS_RTOL, METRIC_ATOL, METRIC_RTOL = 1e-5, 2e-5, 1e-5  # stated tolerances of the correctness table


def settings_from(args) -> dict:
    """What both sides share (TRL's reference is a second load of the same weights, frozen by TRL)."""
    return {
        "steps": args.steps,
        "pairs": args.pairs,
        "lr": args.lr,
        "beta": 0.1,
        "seed": 0,
        "device": getattr(args, "device", "cpu"),
        "plot_weight": 0.1,
        "gradient_checkpointing": getattr(args, "checkpointing", "off") == "on",
        "fused_adamw": True,  # TRL's default optim on torch >= 2.8 ("adamw_torch_fused"); ours is given the same
    }


def tokenised_examples(model: str, data: str, max_length: int, count: int) -> tuple[list[dict], int]:
    """The first ``count`` pairs of ``data`` tokenised by our pipeline (chat template), and the pad id."""
    from plot_lightning.data.datamodule import PreferenceDataModule

    module = PreferenceDataModule(
        data, tokenizer=model, max_length=max_length, max_prompt_length=max_length // 2, shuffle=False
    )
    module.setup("fit")
    rows = [module.train_dataset[i] for i in range(min(count, len(module.train_dataset)))]
    return rows, module.collator.pad_token_id


def versions() -> str:
    import lightning
    import transformers
    import trl

    return (
        f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"trl {trl.__version__}, lightning {lightning.__version__}; threads {torch.get_num_threads()} "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}); {platform.machine()}"
    )


def same_batches(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> None:
    """Assert both libraries trained on identical input_ids, step by step."""
    if len(ours) != len(theirs):
        raise AssertionError(f"step counts differ: ours {len(ours)}, TRL {len(theirs)}")
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if a.shape != b.shape or not torch.equal(a, b):
            raise AssertionError(
                f"step {step}: the batches differ (ours {tuple(a.shape)}, TRL {tuple(b.shape)})"
            )


def correctness(args) -> int:
    settings = settings_from(args)
    examples, pad_id = tokenised_examples(args.model, args.data, args.max_length, args.steps * args.pairs)
    if len(examples) < args.steps * args.pairs:
        raise SystemExit(
            f"{args.data}: {len(examples)} pairs, need steps x pairs = {args.steps * args.pairs}"
        )
    print(versions())
    print(
        f"settings: {settings}, model {args.model}, data {args.data} (first {len(examples)} pairs, in order)"
    )
    from ours_side import run_ours
    from trl_side import run_trl, trl_rows

    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    tokenizer = load_tokenizer(args.model)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as out:
        settings["reference_model"] = load_causal_lm(args.model)
        theirs = run_trl(load_causal_lm(args.model), tokenizer, trl_rows(examples), settings, out)
        del settings["reference_model"]
    ours = run_ours(args.model, examples, pad_id, settings, args.config)
    same_batches(ours.seen_input_ids, theirs.seen_input_ids)
    print(f"same tokenised pairs in the same order: {len(examples)} pairs, {args.steps} steps (asserted)")
    return correctness_table(ours.step_records, theirs.step_records, args.config)


def correctness_table(ours: list[dict], theirs: list[dict], config: str) -> int:
    from ours_side import METRICS

    names = ["loss", *METRICS]
    print(f"\nours ({config}) - TRL, per step (loss: relative diff; metrics: absolute diff)")
    print("step " + " ".join(f"{n:>18s}" for n in names))
    failures = []
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        cells = []
        for name in names:
            if name not in a or name not in b:
                cells.append(f"{'missing':>18s}")
                failures.append(f"step {step} {name} missing ({'ours' if name not in a else 'TRL'})")
                continue
            diff = abs(a[name] - b[name])
            if name == "loss":
                ok = diff <= LOSS_RTOL * abs(b[name]) + 1e-7
                cells.append(f"{diff / max(abs(b[name]), 1e-12):18.2e}")
            else:
                ok = diff <= METRIC_ATOL + METRIC_RTOL * abs(b[name])
                cells.append(f"{diff:18.2e}")
            if not ok:
                failures.append(f"step {step} {name}: ours {a[name]:.8g}, TRL {b[name]:.8g}")
        print(f"{step:4d} " + " ".join(cells))
    for side, records in (("ours", ours), ("TRL", theirs)):
        if abs(records[0]["loss"] - math.log(2)) > 1e-6:
            failures.append(f"{side}: step 0 loss {records[0]['loss']:.8f} != ln 2")
    print(f"step 0 loss: ours {ours[0]['loss']:.8f}, TRL {theirs[0]['loss']:.8f}, ln 2 = {math.log(2):.8f}")
    print(f"tolerance: loss {LOSS_RTOL:g} relative; metrics {METRIC_ATOL:g} + {METRIC_RTOL:g} x |TRL value|")
    print("PASS" if not failures else "FAIL:\n  " + "\n  ".join(failures))
    return 0 if not failures else 1


def write_tables(args, results: dict, probe: LoadProbe, final: bool) -> None:
    """Print the tables (``final``) and write ``--markdown`` / ``--json`` (after every round)."""
    from speed_table import markdown_table, print_ratio_rows, print_speed_table, ratio_rows

    quiet, reason = probe.verdict()
    rows = ratio_rows(results, quiet)
    if final:
        print_speed_table(results, quiet, reason)
        print_ratio_rows(rows)
    if args.markdown:
        Path(args.markdown).write_text(
            f"{versions()}\n\nmachine: {reason}\n\n" + markdown_table(results, rows, quiet)
        )
    if args.json:
        runs = [{"shape": s, "checkpointing": r, "config": c, "runs": v} for (s, r, c), v in results.items()]
        record = {"versions": versions(), "machine": reason, "quiet": quiet, "model": args.model}
        Path(args.json).write_text(json.dumps({**record, "runs": runs, "ratios": rows}, indent=1))


def speed(args) -> int:
    from speed_table import run_child

    probe = LoadProbe(max_load=args.max_load, max_foreign=args.max_foreign)
    print(versions())
    print(probe.describe())
    from speed_one import resolve_model

    resolve_model(args.model, args.work_dir, args.random_layers)
    configs = tuple(args.configs.split(","))
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        raise SystemExit(f"--configs: unknown {unknown}; choose from {CONFIGS}")
    print(
        f"settings: model {args.model}, shapes {args.shapes}, configs {configs}, rounds {args.rounds}, steps "
        f"{args.steps} ({args.warmup} warm-up), threads {args.threads}, lr {args.lr}, fp32, synthetic ids seed 1, "
        f"lengths {args.lengths}"
    )
    checkpointing = args.checkpointing.split(",")
    if set(checkpointing) - {"off", "on"}:
        raise SystemExit(f"--checkpointing: {args.checkpointing!r}; give off, on or off,on")
    results: dict[tuple[str, str, str], list[dict]] = {}
    for round_index in range(args.rounds):
        order = configs if round_index % 2 == 0 else tuple(reversed(configs))  # alternate the order
        for shape in args.shapes.split(","):
            for recompute in checkpointing:
                for config in order:
                    result = probe.measure(lambda c=config, s=shape, r=recompute: run_child(args, c, s, r))
                    results.setdefault((shape, recompute, config), []).append(result)
                    steps = " ".join(f"{value:.2f}" for value in result["step_s"])
                    print(
                        f"  round {round_index} {shape} checkpointing {recompute} {config}: step s [{steps}] "
                        f"(raw, valid only if the verdict below is quiet), peak {result['peak_rss_mb']:.0f} MB, "
                        f"step peak {result['step_peak_mb']:.0f} MB",
                        flush=True,
                    )
        write_tables(args, results, probe, final=False)  # a run cut short keeps its finished rounds
    write_tables(args, results, probe, final=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("correctness", "speed", "one"):
        p = sub.add_parser(name)
        p.add_argument("--model", default="tiny")
        p.add_argument("--steps", type=int, default=4 if name == "correctness" else 3)
        p.add_argument("--pairs", type=int, default=2)
        p.add_argument("--lr", type=float, default=5e-6)
        p.add_argument("--threads", type=int, default=torch.get_num_threads())
        p.add_argument("--work-dir", default=str(Path(tempfile.gettempdir()) / "plot-vs-trl"))
        p.add_argument("--warmup", type=int, default=1, help="first steps left out of the timing")
        p.add_argument(
            "--random-layers", type=int, default=None, help="decoder layers of a random-* model (smoke: 1)"
        )
        p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
        p.add_argument(
            "--lengths",
            choices=("sample", "uniform"),
            default="sample",
            help="sample: each pair's prompt/chosen/rejected proportions from the committed demo pairs; "
            "uniform: every row the full length, a quarter prompt",
        )
    sub.choices["correctness"].add_argument("--data", default="sample:demo")
    sub.choices["correctness"].add_argument("--max-length", type=int, default=512)
    sub.choices["correctness"].add_argument(
        "--config", choices=("dpo", "fused_dpo", "shared_dpo"), default="dpo"
    )
    sub.choices["speed"].add_argument("--shapes", default="2x256,4x1024")
    sub.choices["speed"].add_argument("--rounds", type=int, default=3)
    sub.choices["speed"].add_argument("--max-load", type=float, default=0.5)
    sub.choices["speed"].add_argument(
        "--max-foreign", type=float, default=0.15, help="refuse timings if other processes used more cores"
    )
    sub.choices["speed"].add_argument("--markdown", help="also write the tables as markdown here")
    sub.choices["speed"].add_argument("--json", help="also write every run and ratio as JSON here")
    sub.choices["speed"].add_argument("--configs", default=",".join(CONFIGS), help=f"subset of {CONFIGS}")
    sub.choices["one"].add_argument("--config", choices=CONFIGS, required=True)
    sub.choices["one"].add_argument("--shape", required=True)
    sub.choices["one"].add_argument("--checkpointing", choices=("off", "on"), default="off")
    sub.choices["speed"].add_argument(
        "--checkpointing",
        default="off,on",
        help="gradient checkpointing in both libraries: off, on or off,on",
    )
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.command == "correctness":
        raise SystemExit(correctness(args))
    if args.command == "speed":
        raise SystemExit(speed(args))
    from speed_one import one

    one(args, settings_from(args))


if __name__ == "__main__":
    main()
