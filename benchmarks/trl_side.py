"""TRL's side of ``benchmarks/vs_trl.py``: TRL 1.16 ``DPOTrainer`` on already-tokenised pairs, in order.

TRL tokenises text itself; to give it exactly our token ids, ``PreTokenizedDPOTrainer`` skips that step
(the rows already hold TRL's own columns ``prompt_ids``, ``chosen_ids``, ``rejected_ids``) and samples the
rows sequentially. It records, per step, the collated ``input_ids`` it trained on (so the benchmark can
assert that both libraries saw the same batches in the same order), the loss and TRL's metrics.

Note (read from trl/trainer/dpo_trainer.py and trl/kernels/chunked_logprob.py, 1.16): DPOTrainer already
calls the model with ``fused_lm_head=True``: a chunked log-prob head (tiles of 4,096 tokens x 32,768 vocab
entries, backward recomputes the tiles), so TRL does not build the full (B, T, V) logits either. Without
Triton (CPU) it scores every position, prompt and padding included; ours scores response tokens only.
DPOConfig also defaults ``gradient_checkpointing`` to True; :func:`run_trl` always sets it from the settings.
"""

from __future__ import annotations

import time

import torch
from step_memory import start_step_window, synchronize
from torch.utils.data import SequentialSampler


def pre_tokenized_trainer_class():
    """The DPOTrainer subclass (imported lazily: TRL is a benchmark/dev extra, never a runtime dependency)."""
    from transformers import TrainerCallback
    from trl import DPOTrainer

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.starts: list[float] = []
            self.ends: list[float] = []
            self.fused_adamw: bool | None = None

        def on_step_begin(self, args, state, control, **kwargs):
            if not self.starts:
                start_step_window()
                optimizer = kwargs["optimizer"]
                self.fused_adamw = bool(getattr(optimizer, "optimizer", optimizer).defaults.get("fused"))
            synchronize()
            self.starts.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            synchronize()
            self.ends.append(time.perf_counter())

    class PreTokenizedDPOTrainer(DPOTrainer):
        def __init__(self, *args, **kwargs) -> None:
            self.seen_input_ids: list[torch.Tensor] = []
            self.step_records: list[dict[str, float]] = []
            self.clock = StepClock()
            super().__init__(*args, callbacks=[self.clock], **kwargs)

        def _prepare_dataset(self, dataset, *args, **kwargs):
            return dataset  # already prompt_ids / chosen_ids / rejected_ids: our tokens, unchanged

        def _get_train_sampler(self, *args, **kwargs):
            return SequentialSampler(self.train_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            mode = "train" if self.model.training else "eval"
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if mode == "train":
                self.seen_input_ids.append(inputs["input_ids"].detach().cpu().clone())
                record = {key: values[-1] for key, values in self._metrics["train"].items() if values}
                record["loss"] = float(loss.detach())
                self.step_records.append(record)
            return loss

    return PreTokenizedDPOTrainer


def trl_rows(examples: list[dict]) -> list[dict]:
    """Our tokenised pairs (``chosen_input_ids``/``chosen_labels``/...) as TRL rows (prompt ids + completions)."""
    rows = []
    for example in examples:
        prompt_len = sum(1 for label in example["chosen_labels"] if label == -100)
        rejected_prompt = sum(1 for label in example["rejected_labels"] if label == -100)
        if prompt_len != rejected_prompt or (
            example["chosen_input_ids"][:prompt_len] != example["rejected_input_ids"][:prompt_len]
        ):
            raise ValueError(f"example {example.get('example_index')}: chosen and rejected prompts differ")
        rows.append(
            {
                "prompt_ids": list(example["chosen_input_ids"][:prompt_len]),
                "chosen_ids": list(example["chosen_input_ids"][prompt_len:]),
                "rejected_ids": list(example["rejected_input_ids"][prompt_len:]),
            }
        )
    return rows


def run_trl(model, tokenizer, rows: list[dict], settings: dict, output_dir: str):
    """Train ``settings["steps"]`` DPO steps; returns the trainer (records, seen batches, clock).

    ``gradient_checkpointing`` is always passed: DPOConfig defaults it to True (unlike TrainingArguments), so
    leaving it out would compare TRL recomputing activations against ours storing them.
    """
    import datasets
    from trl import DPOConfig

    args = DPOConfig(
        output_dir=output_dir,
        per_device_train_batch_size=settings["pairs"],
        gradient_accumulation_steps=1,
        max_steps=settings["steps"],
        learning_rate=settings["lr"],
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        max_grad_norm=0.0,  # no clipping (ours does not clip)
        beta=settings["beta"],
        loss_type=["sigmoid"],
        max_length=None,
        disable_dropout=True,
        seed=settings["seed"],
        data_seed=settings["seed"],
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=settings["device"] == "cpu",
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        precompute_ref_log_probs=False,
        gradient_checkpointing=settings["gradient_checkpointing"],
    )
    trainer_class = pre_tokenized_trainer_class()
    reference = settings.get("reference_model")
    trainer = trainer_class(
        model=model,
        ref_model=reference,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    trainer.train()
    return trainer
