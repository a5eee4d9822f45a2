"""``PLOTModule(fused_head=None)``: the fused head wherever it is exact, else the logits head.

Where the fused head is exact (the tiny Llama), ``None`` runs the very step of ``True`` (values and gradients
bit-identical, no logits built); where it is not (Gemma 2's soft-capped logits, an adapter on the lm_head) or
a loss reads the full logits (ORPO's prompt-and-response NLL), ``None`` runs the very step of ``False`` for
that model (bit-identical) with one warning per model object, while ``True`` refuses."""

from __future__ import annotations

import warnings

import pytest
import torch
import transformers as tf

from plot_lightning.forward import align_batch
from plot_lightning.models.loading import load_tokenizer
from plot_lightning.models.lora import LoraSettings
from plot_lightning.module import PLOTModule


@pytest.fixture(scope="module")
def capped(tmp_path_factory) -> str:
    """A Gemma 2 folder with the tiny tokenizer whose logits are soft-capped at 3 (the fused head is not exact)."""
    folder = tmp_path_factory.mktemp("capped")
    tokenizer = load_tokenizer("tiny")
    config = tf.Gemma2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, final_logit_softcapping=3.0,
        pad_token_id=tokenizer.pad_token_id, initializer_range=0.2,
    )  # fmt: skip
    torch.manual_seed(0)
    tf.Gemma2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def assert_identical(one: tuple, other: tuple) -> None:
    (values, grads, logits), (other_values, other_grads, other_logits) = one, other
    assert logits == other_logits
    assert values.keys() == other_values.keys() and grads.keys() == other_grads.keys() and grads
    for name, value in values.items():
        assert torch.equal(value, other_values[name]), name
    for name, grad in grads.items():
        assert torch.equal(grad, other_grads[name]), name


def test_where_exact_auto_is_the_fused_step(module_step, batch) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="fused_head")
        auto = module_step(batch, None)
    assert auto[2] is False  # no (B, T, V) logits on the policy side
    assert_identical(auto, module_step(batch, True))


def test_a_soft_capped_model_falls_back_to_the_logits_head_with_one_warning(
    module_step, batch, capped
) -> None:
    with pytest.warns(
        UserWarning, match="fused_head: Gemma2ForCausalLM runs the logits head: it changes"
    ) as seen:
        auto = module_step(batch, None, model=capped)
    assert len([w for w in seen if "fused_head" in str(w.message)]) == 2  # the policy and the reference copy
    assert auto[2] is True
    assert_identical(auto, module_step(batch, False, model=capped))
    with pytest.raises(ValueError, match="fused_head is not exact for Gemma2ForCausalLM"):
        module_step(batch, True, model=capped)


def test_the_verdict_and_its_warning_are_once_per_model(batch, capped) -> None:
    module = PLOTModule(model=capped, fused_head=None, losses=["dpo"], weights=[1.0])
    module.configure_model()
    aligned = align_batch(batch)
    with pytest.warns(UserWarning, match="runs the logits head"):
        module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="fused_head")
        forward = module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
    assert forward.chosen.logits is not None


def test_an_adapter_on_the_lm_head_falls_back(module_step, batch) -> None:
    lora = LoraSettings(r=2, target_modules=["q_proj", "lm_head"])
    kwargs = dict(losses=["dpo"], weights=[1.0], lora=lora, reference="lora_disabled")
    with pytest.warns(UserWarning, match="runs the logits head: its output embedding is a peft.*not a plain"):
        auto = module_step(batch, None, **kwargs)
    assert_identical(auto, module_step(batch, False, **kwargs))


def test_a_loss_that_reads_the_logits_runs_the_logits_head(module_step, batch) -> None:
    """ORPO's prompt-and-response NLL reads the full logits: None takes the logits head without a warning
    (nothing is refused), True refuses at construction."""
    kwargs = dict(losses=["orpo", "plot"], weights=[1.0, 0.1])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="fused_head")
        auto = module_step(batch, None, **kwargs)
    assert auto[2] is True
    assert_identical(auto, module_step(batch, False, **kwargs))
    with pytest.raises(ValueError, match="loss 'orpo' needs the full"):
        PLOTModule(fused_head=True, **kwargs)
