"""Generation on the tiny model: batched greedy == one-at-a-time greedy, order restored, left padding,
seeded sampling reproducible, per-item callback."""

from __future__ import annotations

import pytest
import torch

from plot_eval.generation.batched import generate, left_pad, prompt_token_ids
from plot_eval.models.loading import load_model

PROMPTS = [
    [{"role": "user", "content": "How do I bake bread?"}],
    [{"role": "user", "content": "Hi"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Write a short poem about the sea."},
    ],
    [{"role": "user", "content": "Janet has 16 eggs. She eats 3. How many are left?"}],
    [{"role": "user", "content": "def add(a, b):"}],
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """The tiny model with larger random matrices: at its small init it writes only newlines for every
    prompt, which would hide a wrong order; these weights give each prompt a different response."""
    model, tokenizer = load_model(tiny_model_dir)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return model, tokenizer


def test_left_pad_puts_padding_first():
    input_ids, attention_mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert input_ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert attention_mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_prompt_uses_chat_template_with_generation_prompt(tiny):
    _, tokenizer = tiny
    text = tokenizer.decode(prompt_token_ids(tokenizer, PROMPTS[1]))
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_batched_greedy_equals_one_at_a_time_in_input_order(tiny):
    model, tokenizer = tiny
    batched = generate(model, tokenizer, PROMPTS, max_new_tokens=12, batch_size=4, progress=False)
    single = [
        generate(model, tokenizer, [p], max_new_tokens=12, batch_size=1, progress=False)[0] for p in PROMPTS
    ]
    assert batched == single
    assert len(set(single)) > 1  # prompts differ, so responses do: a shuffled order would be visible


def test_model_sees_left_padded_batch(tiny, monkeypatch):
    """The batch handed to model.generate is left padded with the pad id and a matching mask."""
    model, tokenizer = tiny
    seen = {}
    original = model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    generate(model, tokenizer, PROMPTS[:2], max_new_tokens=2, batch_size=2, progress=False)
    ids, mask = seen["input_ids"], seen["attention_mask"]
    short = int(mask.sum(-1).argmin())
    n_pad = int((mask[short] == 0).sum())
    assert n_pad > 0 and mask[short, :n_pad].eq(0).all() and mask[short, n_pad:].eq(1).all()
    assert ids[short, :n_pad].eq(tokenizer.pad_token_id).all()


def test_sampling_is_reproducible_with_seed(tiny):
    model, tokenizer = tiny
    kwargs = dict(max_new_tokens=10, batch_size=2, do_sample=True, temperature=1.5, progress=False)
    first = generate(model, tokenizer, PROMPTS, seed=3, **kwargs)
    again = generate(model, tokenizer, PROMPTS, seed=3, **kwargs)
    other = generate(model, tokenizer, PROMPTS, seed=4, **kwargs)
    assert first == again
    assert first != other


def test_sampling_leaves_global_rng_untouched(tiny):
    model, tokenizer = tiny
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    generate(model, tokenizer, PROMPTS[:1], max_new_tokens=3, do_sample=True, progress=False)
    assert torch.rand(1) == expected


def test_on_result_called_once_per_prompt_with_its_index(tiny):
    model, tokenizer = tiny
    calls = []
    responses = generate(
        model,
        tokenizer,
        PROMPTS,
        max_new_tokens=4,
        batch_size=2,
        progress=False,
        on_result=lambda i, t: calls.append((i, t)),
    )
    assert sorted(calls) == sorted(enumerate(responses))


def test_stops_at_eos(tiny, monkeypatch):
    """A model whose next token is always EOS yields empty responses after one step."""
    model, tokenizer = tiny
    eos = tokenizer.eos_token_id
    with torch.no_grad():
        bias = torch.full((model.config.vocab_size,), -1e4)
        bias[eos] = 1e4
        original_bias = model.lm_head.bias
        model.lm_head.bias = torch.nn.Parameter(bias)
    try:
        assert generate(model, tokenizer, PROMPTS[:3], max_new_tokens=8, progress=False) == ["", "", ""]
    finally:
        model.lm_head.bias = original_bias


def test_rejects_non_chat_prompts(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="prompts"):
        generate(model, tokenizer, ["plain string"], progress=False)


def test_progress_lines_count_every_prompt_when_not_a_terminal(tiny, capsys):
    model, tokenizer = tiny
    generate(model, tokenizer, PROMPTS, max_new_tokens=2, batch_size=2, progress_label="model")
    counts = [line.split(" | ")[0] for line in capsys.readouterr().err.splitlines()]
    assert counts == [
        "[generate] model 0/5",
        "[generate] model 2/5",
        "[generate] model 4/5",
        "[generate] model 5/5",
    ]
    generate(model, tokenizer, PROMPTS, max_new_tokens=2, batch_size=2, progress=False)
    assert capsys.readouterr().err == ""
