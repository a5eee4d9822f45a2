"""Two gloo processes run ``check_fused_exact`` on different models: rank 0 a Llama (exact), rank 1 a Cohere
with ``logit_scale`` 0.0625 (not exact). Each writes what it raised to ``<out>/rank<r>.txt``.

    python exactness_ranks.py <port> <out folder>
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import transformers as tf

SMALL = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
             num_key_value_heads=2)  # fmt: skip


def run(rank: int, port: int, out: Path) -> None:
    from plot_lightning.heads.exactness import check_fused_exact

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    torch.manual_seed(0)
    if rank == 0:
        model = tf.LlamaForCausalLM(tf.LlamaConfig(**SMALL))
    else:
        model = tf.CohereForCausalLM(tf.CohereConfig(**SMALL, logit_scale=0.0625))
    ids = torch.randint(3, 64, (2, 8))
    try:
        check_fused_exact(model.eval(), ids, torch.ones_like(ids))
        verdict = "accepted"
    except ValueError as error:
        verdict = str(error)
    (out / f"rank{rank}.txt").write_text(verdict)
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(run, args=(int(sys.argv[1]), Path(sys.argv[2])), nprocs=2)
