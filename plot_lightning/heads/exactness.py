r"""Whether the fused head is exact for a model, asked of the model itself (no list of architectures).

The fused head stands in for the model's ``lm_head`` call and computes log-probs from that call's input and
the head's weight and bias, so it is exact if and only if the model returns what its ``lm_head`` returned,
unchanged. Some causal LMs transform it (Gemma 2/3 soft-capping ``c tanh(z / c)``, Cohere ``z * logit_scale``,
Granite ``z / logits_scaling``, ...) and the next architecture may do something else. So, once per model
object (the first batch it sees, and again for any new model object), on one row of at most ``PROBE_TOKENS``
real tokens of that batch:

1. Pass-through probe: the model's own forward runs with its ``lm_head`` returning a fixed tensor ``P (1, t, V)``
   of values spread over ``[-PROBE_RANGE, PROBE_RANGE]``; the model's ``logits`` must equal ``P`` bit for bit
   (an fp32 up-cast is exact and allowed), and the ``lm_head`` must be called once, on ``(1, t, d)`` hidden
   states. A scale other than 1, a shift, a cap or clamp below ``PROBE_RANGE``, a vocabulary slice or a
   second head call shows up whatever the weights and the dtype.
2. Log-prob agreement: the model's own forward with its real ``lm_head``; the fused head's log-probs of the
   row's next tokens, from the hidden states the ``lm_head`` received, must match ``log_softmax`` of the
   model's own logits within ``4 max(eps, 2^-10) (1 + max |z|)`` (``eps`` of the logits' dtype; ``2^-10``
   covers TF32 matrix products), the rounding of the model's logits.

Either failing, or an output embedding that is not a plain ``nn.Linear``, is a problem: with ``fused_head=True``
a one-line ``ValueError`` naming the model class (:func:`check_fused_exact`), with ``fused_head=None`` that
model runs the logits head, with one warning (:func:`use_fused`). Cost: two no-grad forwards of one
row of at most 16 tokens and two ``(1, t, V)`` tensors, once per model per process (SmolLM2-135M on a loaded
2-core CPU: 2.4 times one such forward, 0.44 times one no-grad forward of a 4 x 192 batch; paid on the first
batch, for the policy and for the reference). Under DDP/FSDP every rank
runs it on the same step (a forward is a collective under FSDP) and the verdict is the maximum over the
process group, so all ranks refuse (or fall back) together.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from plot_lightning.heads.fused_head import fused_head
from plot_lightning.heads.routing import routed_head
from plot_lightning.model_verdicts import ModelVerdicts

PROBE_TOKENS = 16
PROBE_RANGE = 1000.0
_VERDICTS = ModelVerdicts()


def _probe_row(input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """``(1, t)`` the first ``t <= PROBE_TOKENS`` attended tokens (padding dropped) of the batch's longest row."""
    longest = int(attention_mask.sum(dim=-1).argmax())
    row = input_ids[longest][attention_mask[longest].bool()][:PROBE_TOKENS]
    if row.numel() < 2:
        raise ValueError(
            f"fused_head check: the batch's longest row has {row.numel()} real tokens, needs >= 2"
        )
    return row.unsqueeze(0)


def _call(model: nn.Module, ids: Tensor, compute) -> Tensor:
    with torch.no_grad(), routed_head(model, compute):
        return model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits


def _probe_problem(model: nn.Module, ids: Tensor) -> str | None:
    """Step 1 of the module docstring: None when the model passes its lm_head's output through unchanged."""
    seen: list[tuple[int, ...]] = []
    probe: dict[str, Tensor] = {}

    def compute(hidden: Tensor, head: nn.Linear) -> Tensor:
        seen.append(tuple(hidden.shape))
        generator = torch.Generator().manual_seed(len(seen))
        values = torch.rand(hidden.shape[0], hidden.shape[1], head.weight.shape[0], generator=generator)
        probe["logits"] = ((2 * values - 1) * PROBE_RANGE).to(hidden.device, head.weight.dtype)
        return probe["logits"]

    logits = _call(model, ids, compute)
    if len(seen) != 1 or seen[0][:2] != tuple(ids.shape):
        return f"its lm_head was called {len(seen)} time(s) on hidden states {seen}, not once on {tuple(ids.shape)}"
    sent = probe["logits"]
    if logits.shape != sent.shape:
        return f"its logits have shape {tuple(logits.shape)}, its lm_head returned {tuple(sent.shape)}"
    if not torch.equal(logits.float(), sent.float()):
        change = float((logits.float() - sent.float()).abs().max())
        return f"it changes its lm_head's output before returning it (by up to {change:.4g} on a probe)"
    return None


def _logps_problem(model: nn.Module, ids: Tensor) -> str | None:
    """Step 2 of the module docstring: None when the fused head's log-probs match the model's own."""
    fused: dict[str, Tensor] = {}

    def compute(hidden: Tensor, head: nn.Linear) -> Tensor:
        targets, mask = ids[:, 1:], torch.ones_like(ids[:, 1:], dtype=torch.bool)
        fused["logps"] = fused_head(hidden[:, :-1], head.weight, head.bias, targets, mask).logps
        return nn.Linear.forward(head, hidden)

    logits = _call(model, ids, compute)[:, :-1]  # (1, t-1, V) the model's own
    own = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    eps = max(torch.finfo(logits.dtype).eps, 2.0**-10)
    tolerance = 4 * eps * (1 + float(logits.detach().float().abs().max()))
    gap = float((fused["logps"].float() - own).abs().max())
    if not gap <= tolerance:  # also catches NaN
        return f"the fused log-probs differ from its own by up to {gap:.4g} (tolerance {tolerance:.2g})"
    return None


def fused_problem(model: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> str | None:
    """Why the fused head is not exact for ``model``, or None (the module docstring; a head that is not a plain
    ``nn.Linear`` is a problem too). Asked once per model object, on every rank together, on ``(N, T)`` ids and
    attention mask of a real batch; the verdict is kept for that object."""

    def probe() -> str | None:
        head = model.get_output_embeddings()
        if type(head) is not nn.Linear:
            kind = f"{type(head).__module__}.{type(head).__qualname__}"
            return f"its output embedding is a {kind}, not a plain torch.nn.Linear"
        ids = _probe_row(input_ids, attention_mask)
        return _probe_problem(model, ids) or _logps_problem(model, ids)

    return _VERDICTS.problem(model, input_ids.device, probe)


def check_fused_exact(model: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> None:
    """ValueError naming ``type(model)`` unless the fused head is exact for it (:func:`fused_problem`)."""
    problem = fused_problem(model, input_ids, attention_mask)
    if problem is not None:
        raise ValueError(
            f"fused_head is not exact for {type(model).__name__}: {problem}; set fused_head false "
            "(the logits head reads the model's own logits)"
        )


def use_fused(model: nn.Module, input_ids: Tensor, attention_mask: Tensor, required: bool) -> bool:
    """Whether to run ``model`` through the fused head: True where it is exact; else a ValueError when
    ``required`` (``fused_head=True``), or False with one warning per model object (``fused_head=None``)."""
    if required:
        check_fused_exact(model, input_ids, attention_mask)
        return True
    problem = fused_problem(model, input_ids, attention_mask)
    if problem is None:
        return True
    _VERDICTS.warn_once(model, f"fused_head: {type(model).__name__} runs the logits head: {problem}")
    return False
