"""Two gloo processes run ``check_fused_exact`` on different models: rank 0 a Llama (exact), rank 1 a Cohere
with ``logit_scale`` 0.0625 (not exact). Each writes what it raised to ``<out>/rank<r>.txt``; then, on a new
model object of the same kind, what ``use_fused(..., required=False)`` (``fused_head=None``) returned and
warned, to ``<out>/rank<r>_auto.txt``.

    python exactness_ranks.py <port> <out folder>
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import transformers as tf

SMALL = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
             num_key_value_heads=2)  # fmt: skip


def build(rank: int) -> torch.nn.Module:
    torch.manual_seed(0)
    if rank == 0:
        return tf.LlamaForCausalLM(tf.LlamaConfig(**SMALL)).eval()
    return tf.CohereForCausalLM(tf.CohereConfig(**SMALL, logit_scale=0.0625)).eval()


def run(rank: int, port: int, out: Path) -> None:
    from plot_lightning.heads.exactness import check_fused_exact, use_fused

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    ids = torch.randint(3, 64, (2, 8), generator=torch.Generator().manual_seed(1))
    try:
        check_fused_exact(build(rank), ids, torch.ones_like(ids))
        verdict = "accepted"
    except ValueError as error:
        verdict = str(error)
    (out / f"rank{rank}.txt").write_text(verdict)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        auto = use_fused(build(rank), ids, torch.ones_like(ids), required=False)
    (out / f"rank{rank}_auto.txt").write_text("\n".join([str(auto), *(str(w.message) for w in seen)]))
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(run, args=(int(sys.argv[1]), Path(sys.argv[2])), nprocs=2)
