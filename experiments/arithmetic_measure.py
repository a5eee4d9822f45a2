"""The arithmetic experiment's measurements of one policy, one value per item, against the frozen reference.

Three item sets, each a list of dicts written as they are (every interval is recomputed from them):

- ``accuracy``: per held-out prompt, ``correct`` (1/0): greedy decoding of the prefilled prompt writes the
  exact answer. It is read from one teacher-forced pass over ``prompt + prefill + " " + answer``: greedy
  decoding writes the answer exactly when each answer token is the argmax given the ones before it, and
  the token after the last one does not extend the number (a digit). This equals ``generate`` (checked on
  the base model in every run: ``greedy_agreement`` in ``base.json``) at the cost of one forward pass, and
  the same pass gives:
- ``ontask``: per held-out prompt, over the answer tokens: ``kl`` (sum of per-token ``KL(policy ||
  reference)``, whole vocabulary), ``nll`` and ``ref_nll`` (sums of ``-log p``) and ``tokens``.
- ``offtask``: per Human Values held-out pair, the same sums over its chosen response (the chosen-perplexity
  drift away from the task: "fluency kept").

The reference's log-probabilities at the measured positions are computed once (:func:`reference_pass`) and
reused for every policy: the reference never changes. Logits and log-probs are fp32.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from experiments.arithmetic_data import _encode


@dataclass
class Batch:
    """The last ``keep`` positions are measured: kept position ``j`` of row ``r`` predicts ``targets[r, j]``
    where ``mask[r, j]``. In an answer batch, kept position ``len(answer)`` predicts the token after the
    answer (masked out of the sums; read by the accuracy check)."""

    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    keep: int
    targets: torch.Tensor  # (B, keep)
    mask: torch.Tensor  # (B, keep) bool


def _digit_tokens(tokenizer) -> torch.Tensor:
    """``(V,)`` bool: tokens whose text starts with a digit (they would extend a number)."""
    vocab = len(tokenizer)
    texts = tokenizer.convert_ids_to_tokens(list(range(vocab)))
    flags = [bool(text) and tokenizer.convert_tokens_to_string([text])[:1].isdigit() for text in texts]
    return torch.tensor(flags)


def answer_batches(tokenizer, heldout: Sequence[dict[str, Any]], batch_size: int) -> list[Batch]:
    """Teacher-forced batches over ``chat(prompt) + prefill`` (left-padded) then ``" " + answer`` (right-padded)."""
    batches = []
    for start in range(0, len(heldout), batch_size):
        rows = heldout[start : start + batch_size]
        texts = [
            tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
            + row["prefill"]
            for row in rows
        ]
        prefix = _encode(tokenizer, texts)
        answers = [tokenizer(f" {row['answer']}", add_special_tokens=False)["input_ids"] for row in rows]
        width = max(len(a) for a in answers)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        tail = torch.full((len(rows), width), pad, dtype=torch.long)
        tail_mask = torch.zeros((len(rows), width), dtype=torch.long)
        targets = torch.zeros((len(rows), width + 1), dtype=torch.long)
        mask = torch.zeros((len(rows), width + 1), dtype=torch.bool)
        for r, answer in enumerate(answers):
            tail[r, : len(answer)] = torch.tensor(answer)
            tail_mask[r, : len(answer)] = 1
            targets[r, : len(answer)] = torch.tensor(answer)
            mask[r, : len(answer)] = True
        batches.append(
            Batch(
                torch.cat([prefix["input_ids"], tail], 1),
                torch.cat([prefix["attention_mask"], tail_mask], 1),
                width + 1,
                targets,
                mask,
            )
        )
    return batches


def response_batches(
    tokenizer, rows: Sequence[tuple[list[dict[str, str]], str]], *, max_length: int, max_prompt_length: int | None,
    batch_size: int,
) -> tuple[list[Batch], list[int]]:  # fmt: skip
    """Left-padded ``(prompt, response)`` batches scoring the response tokens; rows that do not fit are skipped
    (the second value lists the kept row indices)."""
    from plot_lightning.data.errors import RowProblem
    from plot_lightning.data.tokenize import ChatEncoder

    encoder = ChatEncoder(tokenizer, max_length, max_prompt_length)
    encoded, kept = [], []
    for index, (prompt, response) in enumerate(rows):
        try:
            encoded.append(encoder.encode(prompt, response, "chosen"))
            kept.append(index)
        except RowProblem:
            continue
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batches = []
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start : start + batch_size]
        width = max(len(e["input_ids"]) for e in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        targets = torch.zeros((len(chunk), width), dtype=torch.long)  # position p predicts token p + 1
        mask = torch.zeros((len(chunk), width), dtype=torch.bool)
        keep = 1
        for r, e in enumerate(chunk):
            n, labels = len(e["input_ids"]), torch.tensor(e["labels"])
            ids[r, width - n :] = torch.tensor(e["input_ids"])
            attention[r, width - n :] = 1
            targets[r, width - n : width - 1] = labels[1:].clamp(min=0)
            mask[r, width - n : width - 1] = labels[1:] != -100
            first = int((labels != -100).nonzero()[0])
            keep = max(
                keep, n - first + 1
            )  # from the position predicting the first response token to the end
        batches.append(Batch(ids, attention, keep, targets[:, -keep:], mask[:, -keep:]))
    return batches, kept


@torch.no_grad()
def kept_log_probs(model, batch: Batch) -> torch.Tensor:
    """``(B, keep, V)`` fp32 log-softmax at the kept positions (only those logits are built when the model
    takes ``logits_to_keep``), on the CPU. Position ids follow the attention mask: left padding changes nothing."""
    device = next(model.parameters()).device
    mask = batch.attention_mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    inputs = {"input_ids": batch.input_ids.to(device), "attention_mask": mask, "position_ids": positions}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        logits = model(**inputs, logits_to_keep=batch.keep).logits
    else:
        logits = model(**inputs).logits[:, -batch.keep :]
    return torch.log_softmax(logits.float(), dim=-1).cpu()


def reference_pass(reference, batches: list[Batch]) -> list[torch.Tensor]:
    """The reference's log-probs at the measured positions, once for every policy measured later."""
    was_training = reference.training
    reference.eval()
    try:
        return [kept_log_probs(reference, batch) for batch in batches]
    finally:
        reference.train(was_training)


def _sums(logp: torch.Tensor, ref_logp: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
    mask = batch.mask.float()
    picked = logp.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)
    ref_picked = ref_logp.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)
    kl = (logp.exp() * (logp - ref_logp)).sum(-1)
    return {
        "kl": (kl * mask).sum(-1),
        "nll": -(picked * mask).sum(-1),
        "ref_nll": -(ref_picked * mask).sum(-1),
        "tokens": mask.sum(-1),
    }


def _greedy_correct(logp: torch.Tensor, batch: Batch, digits: torch.Tensor) -> list[int]:
    best = logp.argmax(-1)
    out = []
    for r in range(best.shape[0]):
        n = int(batch.mask[r].sum())
        writes_answer = bool((best[r, :n] == batch.targets[r, :n]).all())
        out.append(int(writes_answer and not bool(digits[best[r, n]])))
    return out


def measure_policy(policy, inputs: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The three item sets of ``policy`` (see the module docstring); ``inputs`` from :func:`prepare_inputs`."""
    was_training = policy.training
    policy.eval()
    try:
        accuracy, ontask, offtask = [], [], []
        item = 0
        for batch, ref_logp in zip(inputs["answer_batches"], inputs["answer_reference"], strict=True):
            logp = kept_log_probs(policy, batch)
            sums = _sums(logp, ref_logp, batch)
            for r, correct in enumerate(_greedy_correct(logp, batch, inputs["digits"])):
                source = inputs["heldout"][item]["source_id"]
                accuracy.append({"item": item, "source_id": source, "correct": correct})
                ontask.append(
                    {"item": item, "source_id": source, **{k: float(v[r]) for k, v in sums.items()}}
                )
                item += 1
        rows = iter(inputs["offtask_kept"])
        for batch, ref_logp in zip(inputs["offtask_batches"], inputs["offtask_reference"], strict=True):
            sums = _sums(kept_log_probs(policy, batch), ref_logp, batch)
            for r in range(batch.input_ids.shape[0]):
                index = next(rows)
                source = inputs["offtask"][index].get("source_id")
                offtask.append(
                    {"item": index, "source_id": source, **{k: float(v[r]) for k, v in sums.items()}}
                )
    finally:
        policy.train(was_training)
    return {"accuracy": accuracy, "ontask": ontask, "offtask": offtask}


def prepare_inputs(
    reference, tokenizer, heldout: Sequence[dict[str, Any]], offtask: Sequence[dict[str, Any]], settings: dict
) -> dict[str, Any]:
    """Batches of both sets, and the reference's log-probs on them, computed once."""
    answers = answer_batches(tokenizer, heldout, settings["batch_size"])
    responses, kept = response_batches(
        tokenizer, [(row["prompt"], row["chosen"]) for row in offtask], max_length=settings["max_length"],
        max_prompt_length=settings["max_prompt_length"], batch_size=settings["batch_size"],
    )  # fmt: skip
    return {
        "heldout": list(heldout), "offtask": list(offtask), "offtask_kept": kept,
        "answer_batches": answers, "answer_reference": reference_pass(reference, answers),
        "offtask_batches": responses, "offtask_reference": reference_pass(reference, responses),
        "digits": _digit_tokens(tokenizer),
    }  # fmt: skip


class _Prompted:
    """A held-out row seen as a problem by :func:`~.arithmetic_data.continuations`."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    def messages(self) -> list[dict[str, str]]:
        return self.row["prompt"]

    def prefill(self) -> str:
        return self.row["prefill"]

    @property
    def answer(self) -> int:
        return int(self.row["answer"])


def generated_correct(model, tokenizer, heldout: Sequence[dict[str, Any]], max_new_tokens: int) -> list[int]:
    """Per row, 1/0: does ``generate`` (greedy) write the exact answer? The check of the teacher-forced reading."""
    from experiments.arithmetic_data import continuations
    from experiments.arithmetic_task import is_correct

    prompted = [_Prompted(row) for row in heldout]
    texts = continuations(model, tokenizer, prompted, max_new_tokens=max_new_tokens)
    return [int(is_correct(p, t[0])) for p, t in zip(prompted, texts, strict=True)]
