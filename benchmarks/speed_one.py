"""``vs_trl.py one``: one configuration at one shape in this process, on synthetic token ids.

``speed_table.run_child`` starts it once per configuration, shape and round, so that each process's peak
memory is that configuration's alone; it prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import json
import tempfile

import demo_lengths
import torch
from ours_side import run_ours
from random_models import RANDOM_SPECS, random_model_folder
from trl_side import run_trl, trl_rows

from plot_lightning.models.loading import load_causal_lm, load_tokenizer


def sample_lengths(model: str, model_spec: str) -> list[tuple[int, int, int]]:
    """(prompt, chosen, rejected) token counts of the committed demo pairs (:mod:`demo_lengths`): under the
    model's own tokenizer and chat template, or the committed SmolLM2 counts for a ``random-*`` model."""
    return demo_lengths.committed() if model in RANDOM_SPECS else demo_lengths.measured(model_spec)


def synthetic_examples(
    pairs: int, seq_len: int, vocab: int, steps: int, lengths: list[tuple[int, int, int]] | None = None
) -> list[dict]:
    """Random ids. Without ``lengths`` every row is ``seq_len`` tokens, a quarter prompt; with them pair ``i``
    takes the proportions of ``lengths[i % len]`` scaled so that its longer row is ``seq_len`` tokens."""
    gen = torch.Generator().manual_seed(1)
    examples = []
    for index in range(pairs * steps):
        if lengths is None:
            prompt, chosen_len, rejected_len = seq_len // 4, seq_len, seq_len
        else:
            p, c, r = lengths[index % len(lengths)]
            scale = seq_len / (p + max(c, r))
            prompt = max(1, round(p * scale))
            chosen_len = max(prompt + 1, round((p + c) * scale))
            rejected_len = max(prompt + 1, round((p + r) * scale))
        ids = torch.randint(3, vocab, (3, seq_len), generator=gen).tolist()
        chosen, rejected = ids[0][:chosen_len], (ids[0][:prompt] + ids[1][prompt:])[:rejected_len]
        examples.append(
            {
                "chosen_input_ids": chosen,
                "chosen_labels": [-100] * prompt + chosen[prompt:],
                "rejected_input_ids": rejected,
                "rejected_labels": [-100] * prompt + rejected[prompt:],
                "example_index": index,
                "subpreference_id": 0,
            }
        )
    return examples


def one(args, settings: dict) -> None:
    """One configuration, one shape, in this process: prints one JSON line (step times, CPU, peak memory).
    ``settings``: what both sides share (``vs_trl.settings_from``)."""
    import resource
    import time

    from step_memory import step_peak_mb

    torch.set_num_threads(args.threads)
    pairs, seq_len = (int(v) for v in args.shape.split("x"))
    if args.steps <= args.warmup:
        raise SystemExit(f"--steps {args.steps} must exceed --warmup {args.warmup} (no timed step left)")
    model_spec = resolve_model(args.model, args.work_dir, args.random_layers)
    spec = RANDOM_SPECS.get(args.model)
    vocab = spec.vocab_size if spec else len(load_tokenizer(model_spec))
    lengths = sample_lengths(args.model, model_spec) if args.lengths == "sample" else None
    examples = synthetic_examples(pairs, seq_len, vocab, args.steps, lengths)
    tokens = sum(len(e["chosen_input_ids"]) + len(e["rejected_input_ids"]) for e in examples) / args.steps
    settings["pairs"] = pairs
    cpu_start = time.process_time()
    if args.config == "trl":
        settings["reference_model"] = load_causal_lm(model_spec)
        with tempfile.TemporaryDirectory() as out:
            recorder = run_trl(
                load_causal_lm(model_spec), load_tokenizer(model_spec), trl_rows(examples), settings, out
            )
            starts, ends = recorder.clock.starts, recorder.clock.ends
            checkpointing = bool(recorder.model.is_gradient_checkpointing)
            fused_adamw = recorder.clock.fused_adamw
    else:
        recorder = run_ours(model_spec, examples, 0, settings, args.config)
        starts, ends = recorder.starts, recorder.ends
        checkpointing, fused_adamw = recorder.checkpointing, recorder.fused_adamw
    if checkpointing != settings["gradient_checkpointing"]:
        raise SystemExit(
            f"{args.config}: asked checkpointing {args.checkpointing}, the model ran {checkpointing}"
        )
    if fused_adamw != settings["fused_adamw"]:
        raise SystemExit(
            f"{args.config}: the optimizer ran fused={fused_adamw}, not {settings['fused_adamw']}"
        )
    steps = [end - start for start, end in zip(starts, ends, strict=True)][args.warmup :]  # warm-up left out
    result = {
        "config": args.config,
        "shape": args.shape,
        "tokens_per_step": tokens,  # real tokens of both rows (no padding), the mean over the steps
        "lengths": args.lengths,
        "step_s": steps,
        "cpu_s_total": time.process_time() - cpu_start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "step_peak_mb": step_peak_mb(),  # since the first step began (see step_memory); CUDA: allocated
        "memory": "cuda max_memory_allocated" if settings["device"] == "cuda" else "RSS VmHWM",
        "checkpointing": args.checkpointing,
    }
    print("RESULT " + json.dumps(result), flush=True)


def resolve_model(name: str, work_dir: str, layers: int | None = None) -> str:
    """A random spec's folder (:mod:`random_models`, written once under ``work_dir``), else ``name``."""
    return str(random_model_folder(name, work_dir, layers)) if name in RANDOM_SPECS else name
