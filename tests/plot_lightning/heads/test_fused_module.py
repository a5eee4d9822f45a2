"""PLOTModule(fused_head=True) against the unfused module on real collated tiny batches: the same loss
terms (1e-5), TRL metrics and parameter gradients (1e-4 relative), tied and untied output embeddings, LoRA
with the adapters-disabled reference, bf16 weights (fp32 math), for the PLOT dirac and sinkhorn variants
(sinkhorn: policy and reference top-K from the head's chunks), and a clear error where it cannot apply."""

from __future__ import annotations

import pytest
import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from plot_lightning.forward import align_batch
from plot_lightning.models.loading import load_tokenizer
from plot_lightning.models.lora import LoraSettings
from plot_lightning.models.tiny import tiny_model
from plot_lightning.module import PLOTModule


@pytest.fixture(scope="module")
def untied(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("untied")
    tokenizer = load_tokenizer("tiny")
    model = tiny_model(len(tokenizer), tie_word_embeddings=False, seed=3)
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def compare(module_step, batch, value_tol: float = 1e-5, grad_tol: float = 1e-4, **kwargs) -> dict:
    """The fused step's values and gradients against the unfused one's; returns the unfused values."""
    fused_values, fused_grads, _ = module_step(batch, True, **kwargs)
    plain_values, plain_grads, _ = module_step(batch, False, **kwargs)
    fused_values = {name: float(value) for name, value in fused_values.items()}
    plain_values = {name: float(value) for name, value in plain_values.items()}
    assert set(fused_values) == set(plain_values)
    for name, value in plain_values.items():
        assert fused_values[name] == pytest.approx(value, rel=value_tol, abs=value_tol), name
    assert set(fused_grads) == set(plain_grads) and plain_grads
    for name, grad in plain_grads.items():
        grad = grad.float()
        scale = float(grad.abs().max()) + 1e-12
        assert float((fused_grads[name].float() - grad).abs().max()) <= grad_tol * scale, name
    return plain_values


VARIANTS = ["dirac", "sinkhorn"]


def plot_args(variant: str, **extra) -> dict:
    """``loss_args`` of the PLOT term; sinkhorn with a looser epsilon so that it converges in few steps."""
    settings = {"variant": variant, **extra}
    if variant == "sinkhorn":
        settings.update(top_k=8, epsilon=0.1, max_iter=300)
    return {"plot": settings}


@pytest.mark.parametrize("variant", VARIANTS)
def test_tied_dpo_plot(module_step, batch, variant) -> None:
    values = compare(
        module_step, batch, losses=["dpo", "plot"], weights=[1.0, 0.5], loss_args=plot_args(variant)
    )
    assert values["loss/dpo"] != pytest.approx(
        0.6931, abs=1e-3
    )  # the policy really differs from the reference
    assert {"logits/chosen", "logits/rejected", "rewards/margins", "plot/chosen_cost"} <= set(values)


@pytest.mark.parametrize("variant", VARIANTS)
def test_untied_with_rejected_push_and_l2(module_step, batch, untied, variant) -> None:
    args = plot_args(variant, gamma=1.0, margin=1.5, cost="l2")
    values = compare(
        module_step, batch, model=untied, losses=["dpo", "plot"], weights=[1.0, 0.5], loss_args=args
    )
    assert "plot/rejected_cost" in values


@pytest.mark.parametrize("variant", VARIANTS)
def test_lora_with_adapters_disabled_reference(module_step, batch, variant) -> None:
    lora = LoraSettings(r=4, target_modules=["q_proj", "v_proj"])
    compare(
        module_step,
        batch,
        losses=["dpo", "sft", "plot"],
        weights=[1.0, 0.3, 0.5],
        lora=lora,
        reference="lora_disabled",
        loss_args=plot_args(variant),
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_bf16_weights_agree_within_bf16_logit_rounding(module_step, batch, variant) -> None:
    """bf16 weights: the unfused path rounds the logits to bf16 before its fp32 log-softmax, the fused head
    multiplies the bf16 hidden states and weight in fp32 (its fp32 math on bf16 inputs is tested exactly in
    test_fused_head.py), so the two agree to bf16 logit rounding (2^-8 relative), not to 1e-5."""
    args = plot_args(variant)
    compare(
        module_step,
        batch,
        2e-3,
        2e-2,
        losses=["dpo", "plot"],
        weights=[1.0, 0.5],
        model_dtype="bfloat16",
        loss_args=args,
    )


def test_unsupported_combinations_are_refused() -> None:
    """PLOT sinkhorn used to be refused here and is now supported; what still needs the full logits (ORPO's
    prompt-and-response NLL, an adapter on the lm_head) gives an error that says what to change."""
    PLOTModule(fused_head=True, losses=["plot"], weights=[1.0], loss_args={"plot": {"variant": "sinkhorn"}})
    with pytest.raises(ValueError, match="loss 'orpo' needs the full"):
        PLOTModule(fused_head=True, losses=["orpo"], weights=[1.0])
    PLOTModule(fused_head=True, losses=["orpo"], weights=[1.0], loss_args={"orpo": {"nll": "response"}})
    lora_head = LoraSettings(r=2, target_modules=["q_proj", "lm_head"])
    module = PLOTModule(fused_head=True, losses=["sft"], weights=[1.0], lora=lora_head)
    module.configure_model()
    aligned_batch = {
        "input_ids": torch.tensor([[1, 5, 6]]),
        "attention_mask": torch.ones(1, 3, dtype=torch.long),
        "labels": torch.tensor([[-100, 5, 6]]),
        "has_rejected": False,
    }
    with pytest.raises(ValueError, match="plain torch.nn.Linear"):
        module._policy_forward(align_batch(aligned_batch), None)


def test_policy_equal_to_reference_gives_ln2_and_zero_rewards(batch) -> None:
    """Policy == reference: the fused policy and reference log-probs must agree to the last bit (the same
    reduction order), so DPO is ln 2 and every reward, margin and accuracy is exactly 0."""
    module = PLOTModule(fused_head=True, losses=["dpo"], weights=[1.0])
    module.configure_model()
    aligned = align_batch(batch)
    forward = module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
    _, terms = module.loss(forward)
    assert float(terms["loss/dpo"]) == pytest.approx(0.6931471805599453, abs=1e-7)
    for name in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"):
        assert float(terms[f"dpo/{name}"]) == 0.0, name


class LargestAllocation(TorchDispatchMode):
    """The largest tensor (in elements) any aten op returns, forward and backward."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in pytree.tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                self.largest = max(self.largest, tensor.numel())
        return out


@pytest.mark.parametrize("variant", VARIANTS)
def test_fused_step_never_builds_full_logits(batch, variant) -> None:
    """The whole fused step (policy + reference forward, losses, backward) never creates a tensor of even half
    the (N, T-1, V) logits' size; the unfused step does (its logits and their gradient). Sinkhorn with K = 4:
    its per-token (2K+2)^2 transport problems must stay below the tiny model's V = 384 for this bound."""
    sizes = {}
    args = {"plot": {"variant": variant, "top_k": 4, "epsilon": 0.1}}
    for fused in (True, False):
        module = PLOTModule(
            fused_head=fused, fused_chunk_size=7, losses=["dpo", "plot"], weights=[1.0, 0.5], loss_args=args
        )
        module.configure_model()
        aligned = align_batch(batch)
        with LargestAllocation() as counter:
            forward = module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
            module.loss(forward)[0].backward()
        sizes[fused] = counter.largest
    rows, length = batch["input_ids"].shape
    logits_size = rows * (length - 1) * module.policy.config.vocab_size
    assert sizes[False] >= logits_size
    assert sizes[True] < logits_size / 2, (sizes, logits_size)
