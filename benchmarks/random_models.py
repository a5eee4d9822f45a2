"""Random-weight models of real shapes, built from a config (no downloaded weights), for speed and memory runs.

Speed and peak memory depend on the architecture and the vocabulary, not on the weights' values, so a model
built from its published config with random weights measures what the trained one would. These folders are
what ``benchmarks/vs_trl.py --model <name>`` and ``benchmarks/gpu_check.py`` train; each is written once
under a work folder (``config.json``, safetensors weights and a 3-token tokenizer whose pad id is 0: the
benchmarks feed token ids directly, so the tokenizer only supplies the pad and EOS ids).

Specs (name: architecture, vocabulary V, hidden size d, layers):

- ``random-smollm2``: SmolLM2-135M's Llama config, V = 49,152, d = 576, 30 layers, tied embeddings.
- ``random-128k``: the same with V = 128,256 (Llama 3's vocabulary).
- ``random-gemma3-270m``: Gemma 3 270M's config, V = 262,144, d = 640, 18 layers (5 sliding-window layers
  per full-attention one, window 512), 4 heads of 256, 1 KV head, tied embeddings.
- ``random-tiny`` / ``random-gemma3-tiny``: the same two architectures at a few MB, for the CPU smoke runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class RandomSpec:
    vocab_size: int
    build_config: Callable[[int], object]  # layers -> a transformers config


def _llama(vocab: int, hidden: int, inter: int, heads: int, kv: int) -> Callable[[int], object]:
    def build(layers: int):
        import transformers

        return transformers.LlamaConfig(
            vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=kv, tie_word_embeddings=True,
            max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
            pad_token_id=0, bos_token_id=2, eos_token_id=2,
        )  # fmt: skip

    return build


def _gemma3(vocab: int, hidden: int, inter: int, heads: int, head_dim: int) -> Callable[[int], object]:
    def build(layers: int):
        import transformers

        # Gemma 3's pattern: every sixth layer attends globally, the others within a 512-token window.
        kinds = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(layers)]
        return transformers.Gemma3TextConfig(
            vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=1, head_dim=head_dim, query_pre_attn_scalar=head_dim,
            sliding_window=512, layer_types=kinds, max_position_embeddings=32768, tie_word_embeddings=True,
            pad_token_id=0, bos_token_id=2, eos_token_id=1,
        )  # fmt: skip

    return build


RANDOM_SPECS: dict[str, RandomSpec] = {
    "random-smollm2": RandomSpec(49152, _llama(49152, 576, 1536, 9, 3)),
    "random-128k": RandomSpec(128256, _llama(128256, 576, 1536, 9, 3)),
    "random-gemma3-270m": RandomSpec(262144, _gemma3(262144, 640, 2048, 4, 256)),
    "random-tiny": RandomSpec(512, _llama(512, 64, 128, 4, 2)),
    "random-gemma3-tiny": RandomSpec(1024, _gemma3(1024, 64, 128, 2, 32)),
}
DEFAULT_LAYERS = {"random-gemma3-270m": 18, "random-tiny": 2, "random-gemma3-tiny": 6}  # else 30


def ids_tokenizer():
    """A 3-token tokenizer (``<pad>`` 0, ``<eos>`` 1, ``<bos>`` 2): the pad and EOS ids for pre-tokenised runs."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2}
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<pad>")),
        pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
    )  # fmt: skip


def random_model_folder(name: str, work_dir: str | Path, layers: int | None = None) -> Path:
    """The folder of random spec ``name`` with ``layers`` decoder layers (default: the real model's), written
    on first use with seed 0."""
    if name not in RANDOM_SPECS:
        raise ValueError(f"unknown random model {name!r}; choose from {sorted(RANDOM_SPECS)}")
    layers = layers or DEFAULT_LAYERS.get(name, 30)
    folder = Path(work_dir) / f"{name}-l{layers}"
    if not (folder / "config.json").exists():
        import transformers

        config = RANDOM_SPECS[name].build_config(layers)
        torch.manual_seed(0)
        transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32).save_pretrained(folder)
        ids_tokenizer().save_pretrained(folder)
    return folder
