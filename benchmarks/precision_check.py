"""bf16 against fp32 for the fused and unfused heads, and what PLOT's cost embedding holds (``gpu_check.py``).

One DPO + 0.1 PLOT (dirac) step's loss and policy gradient, computed by ``PLOTModule`` outside a Trainer:

- **fp32 reference**: the model in fp32 with the policy moved off the reference by a seeded perturbation
  (policy == reference would make the DPO term ln 2 in any precision and test nothing);
- **bf16**: the same weights cast to bf16 (``model_dtype="bfloat16"``, the ``bf16-true`` path; the module keeps
  log-softmax, log-probs and the PLOT cost in fp32);
- each head (``fused_head`` false / true) against the fp32 reference of the same head, and the two heads
  against each other in fp32 (they compute the same function: agreement to float rounding).

Thresholds, stated before any run: bf16 within 2e-2 relative on the loss and a gradient cosine of at least
0.99 with fp32 (bf16 keeps 8 bits of mantissa: a relative rounding of 2^-8 = 3.9e-3 per operation); fused
against unfused in fp32 within 1e-4 relative on the loss and on the gradient's norm of the difference.
"""

from __future__ import annotations

import torch

from plot_lightning.data.collate import PreferenceCollator
from plot_lightning.module import PLOTModule

BF16_LOSS_RTOL, BF16_GRAD_COSINE = 2e-2, 0.99
FP32_HEADS_RTOL = 1e-4
PERTURBATION = 0.02  # relative size of the seeded move of the policy off the reference


def _module(model: str, fused: bool, dtype: str, shared: bool = False) -> PLOTModule:
    module = PLOTModule(
        model=model,
        losses=["dpo", "plot"],
        weights=[1.0, 0.1],
        loss_args={"dpo": {"beta": 0.1}, "plot": {"variant": "dirac"}},
        fused_head=fused,
        model_dtype=dtype,
        prefix_sharing=shared,  # True: a model that cannot take it raises (the packing rows say why)
    )
    module.configure_model()
    return module


def _perturbed_policy_state(model: str) -> dict[str, torch.Tensor]:
    """The fp32 policy weights moved by ``PERTURBATION`` x their own scale, seed 0 (the same for every run)."""
    from plot_lightning.models.loading import load_causal_lm

    generator = torch.Generator().manual_seed(0)
    state = {}
    for name, value in load_causal_lm(model).state_dict().items():
        noise = torch.randn(value.shape, generator=generator) if value.is_floating_point() else 0
        state[name] = value + PERTURBATION * value.float().std().nan_to_num() * noise
    return state


def step(
    model: str, fused: bool, dtype: str, state: dict, batch: dict, device: str, shared: bool = False
) -> tuple[float, torch.Tensor]:
    """Loss and the flattened fp32 policy gradient of one step with the policy at ``state``."""
    module = _module(model, fused, dtype, shared)
    module.policy.load_state_dict(state)  # cast to the module's dtype
    module.to(device)
    on_device = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    loss = module.training_step(on_device, 0)
    loss.backward()
    grads = [p.grad.float().flatten() for p in module.policy.parameters() if p.grad is not None]
    return float(loss.detach()), torch.cat(grads).cpu()


def _compare(name: str, loss: float, grad: torch.Tensor, ref_loss: float, ref_grad: torch.Tensor) -> dict:
    # fp64 sums: over a real model's ~10^8 entries fp32 reductions drift (cosine_similarity read 1.045)
    grad, ref_grad = grad.double(), ref_grad.double()
    cosine = float(grad @ ref_grad / (grad.norm() * ref_grad.norm()).clamp_min(1e-300))
    return {
        "comparison": name,
        "loss": loss,
        "reference_loss": ref_loss,
        "loss_rel_diff": abs(loss - ref_loss) / max(abs(ref_loss), 1e-12),
        "grad_cosine": cosine,
        "grad_rel_err": float((grad - ref_grad).norm() / ref_grad.norm().clamp_min(1e-300)),
    }


def head_precision_rows(model: str, examples: list[dict], device: str) -> list[dict]:
    """One row per comparison (see the module docstring), each with its verdict against the thresholds."""
    batch = PreferenceCollator(0)(examples)
    state = _perturbed_policy_state(model)
    runs = {
        (fused, dtype): step(model, fused, dtype, state, batch, device)
        for fused in (False, True)
        for dtype in ("float32", "bfloat16")
    }
    rows = []
    for fused in (False, True):
        head = "fused" if fused else "unfused"
        row = _compare(f"{head} bf16 vs {head} fp32", *runs[(fused, "bfloat16")], *runs[(fused, "float32")])
        row["pass"] = row["loss_rel_diff"] <= BF16_LOSS_RTOL and row["grad_cosine"] >= BF16_GRAD_COSINE
        row["threshold"] = f"loss rel <= {BF16_LOSS_RTOL:g}, grad cosine >= {BF16_GRAD_COSINE:g}"
        rows.append(row)
    row = _compare("fused fp32 vs unfused fp32", *runs[(True, "float32")], *runs[(False, "float32")])
    row["pass"] = row["loss_rel_diff"] <= FP32_HEADS_RTOL and row["grad_rel_err"] <= FP32_HEADS_RTOL
    row["threshold"] = f"loss rel and grad rel err <= {FP32_HEADS_RTOL:g}"
    rows.append(row)
    return rows


def packing_precision_rows(model: str, examples: list[dict], device: str) -> list[dict]:
    """Prefix-shared packed steps (``prefix_sharing=True``) against the unpacked fp32 step of the same head:
    in fp32 (the same function: within ``FP32_HEADS_RTOL``) and in bf16 (the bf16 thresholds). A model that
    cannot take the packed call gives one row with the reason instead."""
    batch = PreferenceCollator(0)(examples)
    state = _perturbed_policy_state(model)
    rows = []
    for fused in (False, True):
        head = "fused" if fused else "unfused"
        reference = step(model, fused, "float32", state, batch, device)
        for dtype in ("float32", "bfloat16"):
            name = f"{head} shared {dtype} vs {head} unshared float32"
            try:
                row = _compare(
                    name, *step(model, fused, dtype, state, batch, device, shared=True), *reference
                )
            except ValueError as error:  # the packed call refused for this model (e.g. an attention window)
                rows.append({"comparison": name, "pass": "refused", "threshold": str(error)[-160:]})
                continue
            if dtype == "float32":
                row["pass"] = (
                    row["loss_rel_diff"] <= FP32_HEADS_RTOL and row["grad_rel_err"] <= FP32_HEADS_RTOL
                )
                row["threshold"] = f"loss rel and grad rel err <= {FP32_HEADS_RTOL:g}"
            else:
                row["pass"] = (
                    row["loss_rel_diff"] <= BF16_LOSS_RTOL and row["grad_cosine"] >= BF16_GRAD_COSINE
                )
                row["threshold"] = f"loss rel <= {BF16_LOSS_RTOL:g}, grad cosine >= {BF16_GRAD_COSINE:g}"
            rows.append(row)
    return rows


def cost_embedding_rows(model: str) -> list[dict]:
    """Whether PLOT holds its own ``V x d`` copy of the cost embedding, in fp32 and in bf16 (built outside a
    Trainer): ``copies`` counts the ``(V, d)`` tensors PLOT holds whose storage is neither model's."""
    rows = []
    for dtype in ("float32", "bfloat16"):
        module = _module(model, True, dtype)
        held = module.cost_embedding  # the module owns it; a CostEmbedding or a plain normalised tensor
        weight = getattr(held, "weight", held)
        model_storages = {
            m.get_output_embeddings().weight.untyped_storage().data_ptr()
            for m in (module.policy, module.reference)
        }
        own = weight.untyped_storage().data_ptr() not in model_storages
        rows.append(
            {
                "model_dtype": dtype,
                "vocab": weight.shape[0],
                "hidden": weight.shape[1],
                "copies": int(own),
                "copy_mb": weight.numel() * weight.element_size() / 2**20 if own else 0.0,
                "one_copy_mb": weight.numel() * 4 / 2**20,
            }
        )
    return rows
