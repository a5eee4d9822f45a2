"""The GPU check: one script for a lent GPU machine with no package registry, writing its tables under ``--out``.

How to run (the exact ``run`` tool call, the wheels it carries and the time budget: docs/benchmarks.md):

    bash benchmarks/gpu_check.sh "$OUT"                                          # on the GPU machine
    .venv/bin/python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gc   # CPU smoke (what CI runs)

Sections, each written to ``gpu_check.md`` / ``gpu_check.json`` as soon as it ends (a run cut short keeps
what it finished):

1. ``heads``: one DPO + 0.1 PLOT step in bf16 against fp32, fused and unfused heads, and fused against
   unfused in fp32, with computed verdicts (:mod:`precision_check`);
2. ``packing``: prefix-shared packed steps (``prefix_sharing=True``) in fp32 and bf16 against the unpacked
   fp32 step, both heads (:func:`precision_check.packing_precision_rows`; a model that refuses says why);
3. ``embedding``: whether PLOT holds its own ``V x d`` copy of the cost embedding (fp32 and bf16 models);
4. ``fsdp``: one FSDP2 step against the plain step (:mod:`fsdp_step`);
5. ``vs_trl``: ``vs_trl.py speed`` at 2 x 256 and 4 x 1024, gradient checkpointing on in both libraries, on
   random-weight models of real shapes (``random-gemma3-270m``: trl, fused_dpo, fused, dpo_plot; then
   ``random-smollm2``: trl, fused, shared, dpo_plot), each run in its own process, with per-round ratios and their
   verdicts (fused DPO+PLOT against TRL, against fused DPO, and against the unfused head).

Models are built from their configs with random weights (:mod:`random_models`): no download, and speed and
memory depend on shapes, not on weight values. Only torch, lightning, transformers and this repository are
imported, plus TRL (and its ``datasets``) in the ``vs_trl`` section's child processes.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SECTIONS = ("heads", "packing", "embedding", "fsdp", "vs_trl")
SIZES = {  # --tiny (CPU smoke) / real shapes: models of the heads and fsdp sections, and their batch
    True: {"models": ("random-tiny", "random-gemma3-tiny"), "pairs": 2, "seq_len": 16},
    False: {"models": ("random-smollm2", "random-gemma3-270m"), "pairs": 2, "seq_len": 256},
}
VS_TRL = {  # model -> configurations of the vs_trl section, the target first
    "random-gemma3-270m": "trl,fused_dpo,fused,dpo_plot",  # no shared: rows of 1024 exceed its 512 window
    "random-smollm2": "trl,fused,shared,dpo_plot",
}


def versions() -> dict:
    import lightning
    import transformers

    found = {"python": platform.python_version(), "torch": torch.__version__}
    found.update(transformers=transformers.__version__, lightning=lightning.__version__)
    found["trl"] = _version_of("trl")
    found["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.machine()
    found["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        )
        found["commit"] = commit.stdout.strip() or "unknown (no git metadata here)"
    except OSError:
        found["commit"] = "unknown (no git here)"
    return found


def _version_of(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


class Report:
    """Sections as markdown and JSON, rewritten after each section."""

    def __init__(self, out: Path, header: dict) -> None:
        self.out, self.record, self.markdown = out, {"header": header, "sections": {}}, []
        self.markdown.append("# GPU check\n\n" + "\n".join(f"- {k}: {v}" for k, v in header.items()) + "\n")
        out.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, rows: list[dict] | str, seconds: float) -> None:
        self.record["sections"][name] = {"seconds": round(seconds, 1), "rows": rows}
        self.markdown.append(f"## {name} ({seconds:.0f} s)\n\n{_markdown_rows(rows)}\n")
        (self.out / "gpu_check.json").write_text(json.dumps(self.record, indent=1, default=str))
        (self.out / "gpu_check.md").write_text("\n".join(self.markdown))
        print(self.markdown[-1], flush=True)


def _markdown_rows(rows: list[dict] | str) -> str:
    if isinstance(rows, str):
        return rows + "\n"
    if not rows:
        return "(no rows)\n"
    keys = list(rows[0])
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def heads_section(args, folders: dict[str, str], examples: list[dict]) -> list[dict]:
    from precision_check import head_precision_rows

    return [
        {"model": name, **row}
        for name, folder in folders.items()
        for row in head_precision_rows(folder, examples, args.device)
    ]


def packing_section(args, folders, examples) -> list[dict]:
    from precision_check import packing_precision_rows

    return [
        {"model": name, **row}
        for name, folder in folders.items()
        for row in packing_precision_rows(folder, examples, args.device)
    ]


def embedding_section(args, folders, examples) -> list[dict]:
    from precision_check import cost_embedding_rows

    return [{"model": name, **row} for name, folder in folders.items() for row in cost_embedding_rows(folder)]


def fsdp_section(args, folders, examples) -> list[dict]:
    from fsdp_step import fsdp_step_rows

    name, folder = next(iter(folders.items()))
    return [{"model": name, **row} for row in fsdp_step_rows(folder, examples, args.device)]


def vs_trl_commands(args) -> list[list[str]]:
    """One ``vs_trl.py speed`` command per model; its tables go to ``--out`` as vs_trl_<model>.md/.json."""
    models = {"random-tiny": "trl,fused_dpo,fused"} if args.tiny else VS_TRL
    shapes = "1x16" if args.tiny else "2x256,4x1024"
    commands = []
    for model, configs in models.items():
        command = [sys.executable, str(HERE / "vs_trl.py"), "speed", "--model", model, "--shapes", shapes]
        command += ["--configs", configs, "--checkpointing", "on", "--device", args.device]
        command += ["--rounds", str(args.rounds), "--steps", str(args.steps), "--warmup", str(args.warmup)]
        command += ["--max-load", str(args.max_load), "--max-foreign", "4.0", "--work-dir", args.work_dir]
        command += ["--markdown", str(Path(args.out) / f"vs_trl_{model}.md")]
        command += ["--json", str(Path(args.out) / f"vs_trl_{model}.json")]
        commands.append(command)
    return commands


def vs_trl_section(args, folders, examples) -> list[dict]:
    rows = []
    for command in vs_trl_commands(args):
        done = subprocess.run(command)  # its output streams into this one's (the log keeps the raw steps)
        model = command[command.index("--model") + 1]
        result = Path(args.out) / f"vs_trl_{model}.json"
        if done.returncode or not result.exists():
            rows.append({"model": model, "line": f"FAILED (exit {done.returncode}): see the log above"})
            continue
        rows += [
            {"model": model, "shape": r["shape"], "line": r["line"]}
            for r in json.loads(result.read_text())["ratios"]
        ]
    return rows


RUNNERS = {
    "heads": heads_section,
    "packing": packing_section,
    "embedding": embedding_section,
    "fsdp": fsdp_section,
    "vs_trl": vs_trl_section,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_check.md/.json and vs_trl_*.md/.json")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny models and shapes (the CPU smoke run)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"subset of {SECTIONS}")
    parser.add_argument("--work-dir", default="/tmp/plot-gpu-check", help="random model folders")
    parser.add_argument("--rounds", type=int, default=2, help="vs_trl rounds (ABBA order)")
    parser.add_argument("--steps", type=int, default=5, help="vs_trl steps per process")
    parser.add_argument("--warmup", type=int, default=2, help="vs_trl steps left out of the timing")
    # A lent machine runs nothing else, and the sections before vs_trl load its 16 cores building models: the
    # probe still records load and foreign cores in the tables, but only refuses timings far above that.
    parser.add_argument("--max-load", type=float, default=64.0, help="vs_trl: refuse timings above this load")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sections.split(",")) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown {unknown}; choose from {SECTIONS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sections = args.sections.split(",")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here (use --device cpu --tiny for the CPU smoke run)")
    from random_models import random_model_folder
    from speed_one import synthetic_examples

    sizes = SIZES[args.tiny]
    folders = {name: str(random_model_folder(name, args.work_dir)) for name in sizes["models"]}
    examples = synthetic_examples(sizes["pairs"], sizes["seq_len"], 512 if args.tiny else 49152, 1)
    header = {**versions(), "sizes": sizes, "sections": sections, "command": " ".join(sys.argv)}
    report = Report(Path(args.out), header)
    for name in sections:
        start = time.perf_counter()
        try:
            rows = RUNNERS[name](args, folders, examples)
        except Exception as error:  # one broken section must not cost the others a GPU run
            traceback.print_exc()
            rows = [{"line": f"FAILED: {type(error).__name__}: {str(error)[:300]}"}]
        report.add(name, rows, time.perf_counter() - start)
    failed = [
        f"{name}: {row}"
        for name, section in report.record["sections"].items()
        for row in (section["rows"] if isinstance(section["rows"], list) else [])
        if row.get("pass") is False or str(row.get("line", "")).startswith("FAILED")
    ]
    print("gpu_check: " + ("all computed checks pass" if not failed else "FAILED:\n  " + "\n  ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
