"""The fused head is exact or refused on random small configs of several transformers architectures: those
that return their lm_head's output unchanged (Llama, Phi with an lm_head bias, Qwen2, Gemma 2/3 without
soft-capping, Cohere with ``logit_scale = 1``, Granite with ``logits_scaling = 1``) give the unfused log-probs
and PLOT costs; those that transform it (Gemma 2/3 soft-capping, Cohere's logit scale, Granite's logits
scaling, and a forward hook on the lm_head that no list of architectures could know) are refused with the
model class named. The logits head reads the model's own (transformed) logits: its log-probs are the model's."""

from __future__ import annotations

import pytest
import torch
import transformers as tf

from plot_lightning.forward import align_batch
from plot_lightning.heads.exactness import check_fused_exact
from plot_lightning.heads.preference import policy_preference_forward
from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.plot_cost import normalise_embedding

VOCAB = 96
COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    initializer_range=0.2,  # logits of a few units, as a trained model has, not ~0.1
)
# (model class, config class, config extras); the Gemma configs need their head size given
PASS_THROUGH = {
    "llama": ("LlamaForCausalLM", "LlamaConfig", {}),
    "phi_bias": ("PhiForCausalLM", "PhiConfig", {}),
    "qwen2": ("Qwen2ForCausalLM", "Qwen2Config", {}),
    "gemma2_no_cap": ("Gemma2ForCausalLM", "Gemma2Config", {"head_dim": 8, "final_logit_softcapping": None}),
    "gemma3_no_cap": (
        "Gemma3ForCausalLM",
        "Gemma3TextConfig",
        {"head_dim": 8, "final_logit_softcapping": None},
    ),
    "cohere_scale_1": ("CohereForCausalLM", "CohereConfig", {"logit_scale": 1.0}),
    "granite_scaling_1": ("GraniteForCausalLM", "GraniteConfig", {"logits_scaling": 1.0}),
}
TRANSFORMING = {
    "gemma2_softcap": ("Gemma2ForCausalLM", "Gemma2Config", {"head_dim": 8, "final_logit_softcapping": 3.0}),
    "gemma3_softcap": (
        "Gemma3ForCausalLM",
        "Gemma3TextConfig",
        {"head_dim": 8, "final_logit_softcapping": 3.0},
    ),
    "cohere_scale": ("CohereForCausalLM", "CohereConfig", {"logit_scale": 0.0625}),
    "cohere2_scale": ("Cohere2ForCausalLM", "Cohere2Config", {"logit_scale": 0.0625}),
    "granite_scaling": ("GraniteForCausalLM", "GraniteConfig", {"logits_scaling": 8.0}),
}


def build(spec: tuple[str, str, dict]) -> torch.nn.Module:
    model_class, config_class, extras = spec
    config = getattr(tf, config_class)(**COMMON, **extras)
    torch.manual_seed(0)
    return getattr(tf, model_class)(config).eval()


def pair_batch() -> dict:
    """2 pairs of 12 tokens, the last row right-padded; prompt = first 4 tokens."""
    gen = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, VOCAB, (4, 12), generator=gen)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[3, 9:] = 0
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[:, :4] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def loss() -> CompositeLoss:
    composite = CompositeLoss(["dpo", "plot"], [1.0, 0.5], {"plot": {"variant": "dirac"}})
    return composite


def own_logps(model, batch) -> torch.Tensor:
    """``(N,)`` summed log-probs of the targets from ``log_softmax`` of the model's own logits (the oracle)."""
    aligned = align_batch(batch)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    token = torch.log_softmax(logits.double(), -1).gather(-1, aligned.targets[..., None]).squeeze(-1)
    return (token * aligned.mask).sum(-1)


@pytest.mark.parametrize("name", sorted(PASS_THROUGH))
def test_pass_through_architectures_are_exact(name) -> None:
    """Fused and logits head agree (log-probs 1e-5, PLOT dirac costs 1e-5) and both equal the model's own."""
    model, batch = build(PASS_THROUGH[name]), pair_batch()
    composite = loss()
    embedding = normalise_embedding(model.get_output_embeddings().weight)
    aligned = align_batch(batch)
    with torch.no_grad():
        fused = policy_preference_forward(model, aligned, None, composite.needs, embedding, chunk=5)
        plain = policy_preference_forward(model(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits,
                                          aligned, None, composite.needs, embedding)  # fmt: skip
    oracle = own_logps(model, batch).float()
    for side in ("chosen", "rejected"):
        torch.testing.assert_close(
            getattr(fused, side).logps, getattr(plain, side).logps, atol=1e-5, rtol=1e-5
        )
    torch.testing.assert_close(
        torch.cat([plain.chosen.logps, plain.rejected.logps]), oracle, atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        fused.chosen.head.token_costs, plain.chosen.head.token_costs, atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("name", sorted(TRANSFORMING))
def test_transforming_architectures_are_refused_naming_the_class(name) -> None:
    """The fused path raises one line naming the class; the logits head gives the model's own log-probs."""
    model, batch = build(TRANSFORMING[name]), pair_batch()
    composite = loss()
    embedding = normalise_embedding(model.get_output_embeddings().weight)
    aligned = align_batch(batch)
    with pytest.raises(
        ValueError, match=f"not exact for {type(model).__name__}: it changes its lm_head"
    ) as info:
        policy_preference_forward(model, aligned, None, composite.needs, embedding)
    assert "\n" not in str(info.value)
    with torch.no_grad():
        plain = policy_preference_forward(model(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits,
                                          aligned, None, composite.needs, embedding)  # fmt: skip
    oracle = own_logps(model, batch).float()
    torch.testing.assert_close(
        torch.cat([plain.chosen.logps, plain.rejected.logps]), oracle, atol=1e-5, rtol=0
    )


def test_an_unlisted_transform_is_refused() -> None:
    """A forward hook doubling the lm_head's output (no config field, no architecture name) is refused."""
    model, batch = build(PASS_THROUGH["llama"]), pair_batch()
    model.lm_head.register_forward_hook(lambda module, args, output: output * 2)
    with pytest.raises(ValueError, match="not exact for LlamaForCausalLM: it changes its lm_head"):
        check_fused_exact(model, batch["input_ids"], batch["attention_mask"])


def test_a_cap_that_small_logits_never_reach_is_still_refused() -> None:
    """Soft-capping at 1000 changes these random logits (|z| < 5) by under 1e-7 relative: the log-probs
    could not tell, the probe (values up to 1000) does."""
    model, batch = build(TRANSFORMING["gemma2_softcap"]), pair_batch()
    model.config.final_logit_softcapping = 1000.0
    logits = model(input_ids=batch["input_ids"]).logits
    assert float(logits.abs().max()) < 5
    with pytest.raises(ValueError, match="not exact for Gemma2ForCausalLM"):
        check_fused_exact(model, batch["input_ids"], batch["attention_mask"])


def test_checked_once_per_model_object() -> None:
    """A verified model is not probed again (a forward pre-hook counts its calls); a new object is."""
    model, batch = build(PASS_THROUGH["llama"]), pair_batch()
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    check_fused_exact(model, batch["input_ids"], batch["attention_mask"])
    assert len(calls) == 2  # the probe and the log-prob agreement
    check_fused_exact(model, batch["input_ids"], batch["attention_mask"])
    assert len(calls) == 2


def test_the_probe_reads_the_longest_row() -> None:
    """A batch whose first row has one real token (nothing to predict) is still checked, on its longest row;
    a batch with no row of two real tokens is refused with a one-line error."""
    model, batch = build(TRANSFORMING["cohere2_scale"]), pair_batch()
    mask = batch["attention_mask"].clone()
    mask[0, 1:] = 0
    with pytest.raises(ValueError, match="not exact for Cohere2ForCausalLM: it changes its lm_head"):
        check_fused_exact(model, batch["input_ids"], mask)
    with pytest.raises(ValueError, match="the batch's longest row has 1 real tokens, needs >= 2"):
        check_fused_exact(
            build(PASS_THROUGH["llama"]),
            batch["input_ids"],
            torch.zeros_like(mask).index_fill_(1, torch.tensor([0]), 1),
        )
