"""Tiny, fully offline causal LMs for tests and smoke runs.

``tiny_tokenizer()`` trains a byte-level BPE tokenizer (a few hundred tokens) on a fixed English corpus in
well under a second and gives it a ChatML chat template (the one SmolLM2-Instruct uses), so the data
pipeline is exercised exactly as with a real chat model. ``tiny_model(vocab_size)`` builds a randomly
initialised 2-layer Llama from a config. Both are deterministic.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Human: How do I bake bread? Assistant: Mix flour, water, yeast and salt, knead, let it rise, then bake.",
    "Janet has 16 eggs. She eats 3 and bakes with 4. She sells the rest for 2 dollars each: 18 dollars.",
    "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5",
    "I am sorry, but I cannot help with that request because it could cause harm.",
    "Water boils at 100 degrees Celsius at sea level. The answer is 42.",
    "Please write a short poem about the sea, the sky and the wind.",
    "Sure! Here is a helpful, honest and harmless answer to your question.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 + - * / = ( ) [ ] { } : ; , . ? ! ' \" #",
]


def tiny_tokenizer(vocab_size: int = 384) -> PreTrainedTokenizerFast:
    """A deterministic byte-level BPE tokenizer with ChatML special tokens and chat template."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    wrapped.chat_template = CHATML_TEMPLATE
    return wrapped


def tiny_model(
    vocab_size: int,
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    seed: int = 0,
    tie_word_embeddings: bool = True,
) -> LlamaForCausalLM:
    """A randomly initialised Llama with ``num_layers`` decoder layers, in fp32, seeded."""
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=1024,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return model.to(torch.float32)
