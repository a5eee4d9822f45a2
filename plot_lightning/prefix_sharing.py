r"""Prefix-shared, padding-free model calls for pair batches: one pass over each pair's shared prompt.

The batch the losses see is unchanged (``N = 2B`` right-padded rows, chosen then rejected; :mod:`forward`).
Only the model call changes. Each pair ``i`` becomes one segment ``prefix + chosen suffix + rejected
suffix``, where the prefix is the longest common prefix of the two rows' real tokens (the prompt, and any
response tokens both sides start with), and segments are packed first-fit-decreasing into rows no longer
than the longest segment::

    segment   p0 p1 p2 | c3 c4 c5 | r3 r4        (prefix length P = 3)
    position   0  1  2 |  3  4  5 |  3  4        (the rejected suffix restarts after the prefix)
    sees       causal  | prefix + own suffix, causally; never the other suffix

Under that mask and those positions every token's hidden state equals the one it has in its own unpacked
row (attention reads only the keys a causal mask allows, at the same positions), so the final hidden states
are gathered back into the ``(N, T, d)`` layout right before the model's ``lm_head`` (a forward pre-hook):
the logits, the fused head and every loss see the unpacked layout, and backward scatters the gradient of a
shared prefix token from both sides into its one slot. Saved: the prompt is computed once instead of twice,
and padding only fills the end of a packed row.

Whether a model takes such a call is asked of the model, once per model object, as the fused head's
exactness (:func:`prefix_sharing_problem`): a bit-exact independence probe (changing the chosen suffix
leaves the rejected rows' logits bit-identical, so the mask is obeyed) and an agreement probe (the packed
call's log-probs equal the unpacked call's). Attention implementations: ``sdpa`` is computed segment by
segment as causal blocks (:mod:`segment_attention`: only the allowed products; the boolean mask is still
passed, and used where the blocks do not apply), ``eager`` takes an additive mask in the model's dtype (a
boolean one would be added as 0/1: silently wrong); others (flash, flex, paged) are refused by name. A
model with a sliding or chunked attention window is packed only while every row fits in the window (then
the window masks nothing).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from plot_lightning import segment_attention
from plot_lightning.model_verdicts import ModelVerdicts

MASK_KINDS = {"sdpa": "bool", "eager": "additive"}
WINDOW_FIELDS = ("sliding_window", "attention_chunk_size")
PROBE_PREFIX, PROBE_SUFFIX = 8, 4
_VERDICTS = ModelVerdicts()


@dataclass(frozen=True)
class SharedPrefixLayout:
    """How ``B`` pairs (rows ``i`` and ``B + i`` of an ``(N = 2B, T)`` batch) are laid out in ``R`` packed rows.

    Attributes:
        input_ids: ``(R, L)`` long, the packed tokens (0 on the padding at the end of a row).
        position_ids: ``(R, L)`` long, each token's position in its own unpacked row (0 on padding).
        allowed: ``(R, 1, L, L)`` bool, query ``q`` may attend key ``k`` (padding sees only itself).
        unpack: ``(N, T)`` long, the flat index into ``R * L`` of each unpacked position (padding of an
            unpacked row points at that row's last real token: finite, and never read by a loss).
        chosen_slots: ``(R, L)`` bool, the chosen suffixes' slots (the independence probe rewrites them).
        longest: the longest unpacked row's real length (the attention window must cover it).
        segments: per pair ``(row, start, prefix end, chosen end, end)``, offsets in its packed row, in row
            order: what :mod:`segment_attention` computes block by block instead of masking ``allowed``.
        tokens: real tokens in the packed rows (the unpacked batch has ``attention_mask.sum()``).
        required: raise where a model cannot take the packed call (else that model is called unpacked).
    """

    input_ids: Tensor
    position_ids: Tensor
    allowed: Tensor
    unpack: Tensor
    chosen_slots: Tensor
    longest: int
    tokens: int
    segments: tuple[tuple[int, int, int, int, int], ...] = ()
    required: bool = False


def _lengths(attention_mask: Tensor) -> Tensor:
    """``(N,)`` real lengths; ValueError unless every row is right-padded (ones then zeros) and not empty."""
    mask = attention_mask.bool()
    lengths = mask.sum(dim=1)
    right_padded = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]
    if not torch.equal(mask, right_padded) or not bool((lengths > 0).all()):
        raise ValueError(
            "prefix sharing needs right-padded, non-empty rows ('attention_mask' ones then zeros)"
        )
    return lengths


def share_prefixes(input_ids: Tensor, attention_mask: Tensor, required: bool = False) -> SharedPrefixLayout:
    """The packed layout of a pair batch ``input_ids``/``attention_mask`` ``(N = 2B, T)`` (module docstring)."""
    rows, width = input_ids.shape
    if rows % 2 or rows == 0:
        raise ValueError(
            f"prefix sharing needs a pair batch (N = 2B rows), got 'input_ids' {tuple(input_ids.shape)}"
        )
    pairs = rows // 2
    lengths = _lengths(attention_mask).tolist()
    ids = input_ids.cpu()
    segments = []  # (pair, prefix, chosen length, rejected length)
    for pair in range(pairs):
        chosen, rejected = lengths[pair], lengths[pairs + pair]
        common = min(chosen, rejected)
        same = (ids[pair, :common] == ids[pairs + pair, :common]).long()
        segments.append((pair, int(same.cumprod(0).sum()), chosen, rejected))
    size = [chosen + rejected - prefix for _, prefix, chosen, rejected in segments]
    cap = max(size)
    bins: list[list[int]] = []  # first fit, longest segment first
    fill: list[int] = []
    for pair in sorted(range(pairs), key=lambda p: -size[p]):
        slot = next((b for b, used in enumerate(fill) if used + size[pair] <= cap), None)
        if slot is None:
            bins.append([]), fill.append(0)
            slot = len(bins) - 1
        bins[slot].append(pair)
        fill[slot] += size[pair]
    packed_ids = torch.zeros(len(bins), cap, dtype=torch.long)
    positions = torch.full((len(bins), cap), -1, dtype=torch.long)
    segment_of = torch.full((len(bins), cap), -1, dtype=torch.long)
    side_of = torch.zeros(len(bins), cap, dtype=torch.long)  # 0 prefix, 1 chosen suffix, 2 rejected suffix
    unpack = torch.zeros(rows, width, dtype=torch.long)
    placed = []
    for row, members in enumerate(bins):
        start = 0
        for pair in members:
            _, prefix, chosen, rejected = segments[pair]
            chosen_end, end = start + chosen, start + size[pair]
            packed_ids[row, start:chosen_end] = ids[pair, :chosen]
            packed_ids[row, chosen_end:end] = ids[pairs + pair, prefix:rejected]
            positions[row, start:chosen_end] = torch.arange(chosen)
            positions[row, chosen_end:end] = torch.arange(prefix, rejected)
            segment_of[row, start:end] = pair
            side_of[row, start + prefix : chosen_end] = 1
            side_of[row, chosen_end:end] = 2
            flat = row * cap + start
            unpack[pair, :chosen] = flat + torch.arange(chosen)
            unpack[pair, chosen:] = flat + chosen - 1
            back = torch.cat([flat + torch.arange(prefix), flat + chosen + torch.arange(rejected - prefix)])
            unpack[pairs + pair, :rejected] = back
            unpack[pairs + pair, rejected:] = back[-1]
            placed.append((row, start, start + prefix, chosen_end, end))
            start = end
    query, key = (slice(None), slice(None), None), (slice(None), None, slice(None))
    allowed = (
        (segment_of[query] == segment_of[key])
        & (segment_of[key] >= 0)
        & (positions[key] <= positions[query])
        & ((side_of[key] == 0) | (side_of[key] == side_of[query]))
    )
    allowed |= torch.eye(cap, dtype=torch.bool)[None]  # padding attends itself (no empty softmax row)
    device = input_ids.device
    return SharedPrefixLayout(
        input_ids=packed_ids.to(device),
        position_ids=positions.clamp(min=0).to(device),
        allowed=allowed[:, None].to(device),
        unpack=unpack.to(device),
        chosen_slots=(side_of == 1).to(device),
        longest=max(lengths),
        tokens=sum(size),
        segments=tuple(placed),
        required=required,
    )


def _attention(model: nn.Module) -> str:
    config = model.config
    return getattr(config, "_attn_implementation", None) or "eager"


def _window(model: nn.Module) -> int | None:
    configs = [model.config]
    if hasattr(model.config, "get_text_config"):
        configs.append(model.config.get_text_config())
    windows = [getattr(c, name, None) for c in configs for name in WINDOW_FIELDS]
    windows = [w for w in windows if isinstance(w, int) and w > 0]
    return min(windows) if windows else None


def _mask(model: nn.Module, allowed: Tensor) -> Tensor:
    if MASK_KINDS[_attention(model)] == "bool":
        return allowed
    dtype = model.get_input_embeddings().weight.dtype
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )


@contextmanager
def _unpacked_head_input(model: nn.Module, unpack: Tensor) -> Iterator[None]:
    """While active, the model's ``lm_head`` receives the final hidden states ``(R, L, d)`` gathered into the
    unpacked ``(N, T, d)`` layout (``unpack``)."""

    def gather(_module, args):
        hidden = args[0]
        flat = hidden.reshape(-1, hidden.shape[-1])
        return (flat.index_select(0, unpack.reshape(-1)).view(*unpack.shape, hidden.shape[-1]), *args[1:])

    handle = model.get_output_embeddings().register_forward_pre_hook(gather)
    try:
        yield
    finally:
        handle.remove()


def packed_call(model: nn.Module, layout: SharedPrefixLayout, input_ids: Tensor | None = None):
    """``model``'s output for the unpacked batch, computed on the packed rows (``input_ids`` replaces the
    layout's packed tokens, for the independence probe); its ``logits`` are ``(N, T, V)``."""
    blocks = {}
    if _attention(model) == "sdpa" and layout.segments and _takes_keywords(model):
        segment_attention.install()
        blocks[segment_attention.KEYWORD] = layout.segments
    with _unpacked_head_input(model, layout.unpack):
        return model(
            input_ids=layout.input_ids if input_ids is None else input_ids,
            attention_mask=_mask(model, layout.allowed),
            position_ids=layout.position_ids,
            use_cache=False,
            **blocks,
        )


def _takes_keywords(model: nn.Module) -> bool:
    """Whether ``model``'s forward passes extra keywords on (transformers hands them to the attention
    function)."""
    parameters = inspect.signature(type(model).forward).parameters.values()
    return any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters)


def _probe_pair(input_ids: Tensor, attention_mask: Tensor, vocab: int) -> Tensor:
    """``(2, PROBE_PREFIX + PROBE_SUFFIX)`` probe ids from the batch's first row's real tokens (repeated if
    short): a shared prefix, then the row's next tokens (chosen) or other ids at every position (rejected)."""
    real = input_ids[0][attention_mask[0].bool()]
    if not len(real):
        raise ValueError("prefix sharing check: the batch's first row has no real tokens")
    need = PROBE_PREFIX + PROBE_SUFFIX
    tokens = real.repeat(-(-need // len(real)))[:need]
    prefix, suffix = tokens[:PROBE_PREFIX], tokens[PROBE_PREFIX:]
    return torch.stack([torch.cat([prefix, suffix]), torch.cat([prefix, (suffix.flip(0) + 1) % vocab])])


def _probe(model: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> str | None:
    """None when a packed call of ``model`` equals its unpacked call on a probe pair (module docstring)."""
    attention = _attention(model)
    if attention not in MASK_KINDS:
        return f"its attention implementation {attention!r} is not one of {sorted(MASK_KINDS)}"
    vocab = model.get_input_embeddings().weight.shape[0]
    ids = _probe_pair(input_ids, attention_mask, vocab)
    mask = torch.ones_like(ids)
    layout = share_prefixes(ids, mask)
    causal = torch.ones(ids.shape[1], ids.shape[1], dtype=torch.bool, device=ids.device).tril()
    with torch.no_grad():  # the plain call with an explicit mask too: the same attention kernel as packed
        plain = model(
            input_ids=ids, attention_mask=_mask(model, causal.expand(2, 1, -1, -1)), use_cache=False
        )
        plain = plain.logits
        packed = packed_call(model, layout).logits
        changed = torch.where(layout.chosen_slots, (layout.input_ids + 7) % vocab, layout.input_ids)
        rewritten = packed_call(model, layout, changed).logits
    if not bool(torch.isfinite(plain).all()):
        return "its logits on the probe are not finite"
    if not torch.equal(rewritten[1], packed[1]):
        return "its rejected logits change when the chosen suffix does (the attention mask is not obeyed)"
    # a different packing of the same products (row lengths, masked keys) rounds differently in every layer:
    # SmolLM2-135M fp32 on CPU, 8e-5 at max |z| 30; a position or mask error moves log-probs by O(0.1-1)
    eps = max(torch.finfo(plain.dtype).eps, 2.0**-10)  # the logits' dtype: bf16 under autocast
    own, shared = torch.log_softmax(plain.float(), -1), torch.log_softmax(packed.float(), -1)
    tolerance = eps * (1 + float(plain.float().abs().max()))
    gap = float((own - shared).abs().max())
    if not gap <= tolerance:  # also catches NaN
        return f"its packed log-probs differ from its unpacked ones by up to {gap:.4g} (tolerance {tolerance:.2g})"
    return None


def prefix_sharing_problem(
    model: nn.Module, layout: SharedPrefixLayout, input_ids: Tensor, attention_mask: Tensor
) -> str | None:
    """Why ``model`` cannot take ``layout``'s packed call, or None: the probe (once per model object, on every
    rank together: under FSDP a forward is a collective) and the attention window against ``layout.longest``."""
    problem = _VERDICTS.problem(model, input_ids.device, lambda: _probe(model, input_ids, attention_mask))
    window = _window(model)
    if problem is None and window is not None and layout.longest > window:
        problem = f"a row of {layout.longest} tokens exceeds its attention window of {window}"
    return problem


def use_shared(
    model: nn.Module, layout: SharedPrefixLayout, input_ids: Tensor, attention_mask: Tensor
) -> bool:
    """Whether to call ``model`` through ``layout``'s packed call for the unpacked ``input_ids``/``attention_mask``
    ``(N, T)``: where it cannot, a ValueError if ``layout.required``, else False and a warning once per model."""
    problem = prefix_sharing_problem(model, layout, input_ids, attention_mask)
    if problem is None:
        return True
    if layout.required:
        raise ValueError(
            f"prefix_sharing: {type(model).__name__} cannot share prompts: {problem}; set prefix_sharing false"
        )
    _VERDICTS.warn_once(model, f"prefix_sharing: {type(model).__name__} is called unpacked: {problem}")
    return False
