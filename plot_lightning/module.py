"""PLOTModule: a LightningModule that trains a causal LM policy against a frozen reference with a weighted sum
of preference losses, e.g. ``L = L_dpo + alpha * L_plot``.

Run it with the CLI (``plot-lightning fit --config configs/dpo_plot.yaml``) or drop it into a Lightning project::

    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.1])
    Trainer(max_steps=10).fit(module, datamodule=PreferenceDataModule(..., tokenizer="tiny"))

Strategies: single device, DDP, FSDP1 (:class:`plot_lightning.strategies.cpu_fsdp.CPUFSDPStrategy`, CPU or
CUDA) and FSDP2 (``ModelParallelStrategy(data_parallel_size=N, tensor_parallel_size=1)``; this module shards
each decoder layer then each model in ``configure_model``).

Reference modes are registered strategies (:mod:`plot_lightning.reference.mode`); loss weights by gradient
share: ``grad_share_every``, ``weight_shares``, ``loss_ratio`` below (:mod:`plot_lightning.grad_share`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from typing_extensions import override

from plot_lightning.checkpointing.final_checkpoint import FinalCheckpoint
from plot_lightning.checkpointing.leftovers import LeftoverPartials
from plot_lightning.checkpointing.nonfinite import NonFiniteGuard
from plot_lightning.checkpointing.reference import restore_reference, strip_reference
from plot_lightning.checkpointing.rng_state import RNGStateCallback
from plot_lightning.data.preference_data import PreferenceData
from plot_lightning.forward import ReferenceOutputs, align_batch, model_logits
from plot_lightning.grad_share import GradShares, sharded_reason
from plot_lightning.heads.exactness import use_fused
from plot_lightning.heads.output_embedding import output_embedding_weight
from plot_lightning.heads.preference import (
    fused_mode,
    policy_preference_forward,
)
from plot_lightning.library_notices import silence_library_notices
from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.metrics import preference_metrics
from plot_lightning.losses.options import LossArgs
from plot_lightning.losses.plot_cost import CostEmbedding, normalise_embedding
from plot_lightning.losses.reward_beta import drop_duplicate_rewards, reward_beta
from plot_lightning.losses.types import PreferenceForward
from plot_lightning.models.lora import LoraSettings, apply_lora
from plot_lightning.models.modes import disable_dropout
from plot_lightning.optimization import default_optimizer, with_warmup
from plot_lightning.reference.eval_mode import ReferenceEvalModeNote
from plot_lightning.reference.mode import REFERENCE_MODES, ReferenceMode, ReferenceSettings
from plot_lightning.stage_metrics import StageMetrics
from plot_lightning.strategies.fsdp2 import fully_shard_model
from plot_lightning.strategies.weight_policy import weights_stay_fp32_and_whole
from plot_lightning.tensor_checks import check_choice


class PLOTModule(pl.LightningModule):
    """Preference learning with optimal transport: a policy, a frozen reference and a composite loss.

    Args:
        model: model spec: a Hugging Face folder, a hub name (online), "smollm2-135m-instruct" or "tiny".
        losses: loss names combined as a weighted sum (sft, dpo, ipo, robust, cdpo, hinge, simpo, orpo,
            aot, aot_unpaired, pro, plot); a name shared with TRL is TRL's loss.
        weights: one weight per loss, e.g. ``[1.0, 0.1]`` for DPO + 0.1 * PLOT.
        loss_args: constructor arguments per loss, e.g. ``{"dpo": {"beta": 0.1}, "plot": {"variant": "sinkhorn"}}``.
        reference: a registered reference mode (:mod:`plot_lightning.reference.mode`): "copy" (frozen copy
            of the initial policy), "lora_disabled" (the policy with its LoRA adapters disabled; needs
            ``lora``) or "precomputed" (log-probs cached once on disk; no reference model in memory).
        reference_cache_dir: folder of the precomputed reference cache (built on first use).
        lora: LoRA settings; when given only the adapters train.
        optimizer: optimizer factory taking the trainable parameters (default AdamW, lr 5e-6).
        lr_scheduler: optional LR scheduler factory taking the optimizer (stepped every optimizer step).
        warmup_steps: linear LR warm-up steps before ``lr_scheduler`` (0: none).
        metrics_beta: beta of the TRL-style implicit rewards that are logged (``rewards/*``). None (default):
            the beta of the reference-based loss term (e.g. ``loss_args.dpo.beta``), so the logged rewards are
            the loss's own; 0.1 (TRL's default) when no such term has a beta. Required when several terms
            have different betas.
        model_dtype: dtype the models are loaded in ("float32", "bfloat16", "float16").
        gradient_checkpointing: recompute activations in backward to save memory.
        disable_dropout: set every dropout probability of the policy (and so of the reference copy) to 0, as
            TRL's ``disable_dropout``; False keeps the model's dropout in the policy's training forward. The
            reference always runs in eval mode (no dropout), including ``reference="lora_disabled"``.
        fused_head: compute the log-probs and the PLOT dirac cost (or the sinkhorn support: policy and
            reference top-K) from the final hidden states in chunks of ``fused_chunk_size`` tokens
            (``plot_lightning.heads``), never building the (B, T, V) logits of the policy or the reference;
            same losses and gradients. Exact only for a plain linear lm_head whose output the model returns
            unchanged (asked of each model on its first batch: soft-capped or scaled logits are not,
            ``plot_lightning.heads.exactness``), and only for losses that do not read the full logits (ORPO
            with nll "prompt_and_response" does). None: the fused head wherever it is exact, else the logits
            head (a model it is not exact for: one warning); True: raise instead; False: never. Default None:
            on CPU the fused step was faster and lighter than the logits head's at every measured shape
            (docs/benchmarks.md, "The fused head as the default").
        fused_chunk_size: tokens per chunk of the fused head, at most (extra memory about 3 x chunk x V fp32;
            fewer tokens where a chunk's ``chunk x V`` fp32 block would pass 128 MiB: 128 at V = 262,144).
        prefix_sharing: call the policy and the reference once per pair on packed rows (prompt, then chosen,
            then rejected, which does not see the chosen; several pairs per row, no padding but at the end of
            a row) instead of on ``2B`` padded rows: the prompt is computed once, with the same log-probs,
            losses and gradients (``plot_lightning.prefix_sharing``). None (default): wherever a model takes
            it (asked of each model on its first batch: ``sdpa`` or ``eager`` attention, and rows within any
            attention window), else that model is called unpacked with one warning; True: raise instead;
            False: never. SFT data (no pairs) is never packed.
        on_nonfinite_grad: "stop" (raise before a step with a NaN/inf gradient is applied) or "skip" (drop that
            step and count it in ``train/nonfinite_grad_steps``). Non-finite weights are never checkpointed.
        max_consecutive_skips: with "skip", how many non-finite steps in a row are dropped before the run
            raises as diverged (a healthy step resets the count).
        share_cost_embedding: let PLOT's cost read the frozen reference copy's output embedding (plus a
            vector of row norms) instead of keeping its own normalised fp32 copy (V x d: 295 MB at
            V = 128,256), where that is safe: ``reference="copy"``, fp32 weights, a single device or DDP, and
            a Trainer precision that keeps fp32 weights (32-true or *-mixed). Elsewhere, or False: the copy.
        grad_share_every: log ``train/grad_share/<term>`` = ||w_k g_k|| / ||w_0 g_0|| (g: the gradient of a
            term's batch mean w.r.t. the trainable policy parameters; term 0: the first loss) at step 0 and
            every this many steps, averaged over ranks; 0: never. A measured step costs one extra backward
            pass per term; not measured under FSDP/DeepSpeed (:mod:`plot_lightning.grad_share`).
        weight_shares: e.g. ``{"plot": 0.15}``: at the first training step that term's weight becomes
            0.15 * ||w_0 g_0|| / ||g_k|| (rank-averaged), so its gradient is 15% of the base term's there;
            logged as ``train/calibrated_weight/<term>`` and kept in checkpoints (a resume does not
            recalibrate). Replaces the term's entry of ``weights``.
        loss_ratio: e.g. ``{"plot": 0.15}``: that term's weight is, every step, 0.15 * (w_0 L_0 / L_k)
            detached (EMO's rescaling), logged as ``train/weight/<term>``. Replaces its entry of ``weights``.

    Checkpoints hold the policy, not the frozen reference of ``reference="copy"``: a resume rebuilds it from
    ``model`` (sharded FSDP checkpoints keep it). They also hold the RNG states for an exact resume. However
    fitting ends (Ctrl-C included), ``last.ckpt`` of a ``ModelCheckpoint(save_last=...)`` holds the final weights.
    """

    def __init__(
        self,
        model: str = "tiny",
        losses: list[str] = ["dpo", "plot"],  # noqa: B006 - the signature is the CLI schema
        weights: list[float] = [1.0, 0.1],  # noqa: B006
        loss_args: LossArgs = LossArgs(),  # noqa: B008 - a typed default, so --help lists every option
        reference: str = "copy",
        reference_cache_dir: str | None = None,
        lora: LoraSettings | None = None,
        optimizer: OptimizerCallable = default_optimizer,
        lr_scheduler: LRSchedulerCallable | None = None,
        warmup_steps: int = 0,
        metrics_beta: float | None = None,
        model_dtype: str = "float32",
        gradient_checkpointing: bool = False,
        disable_dropout: bool = True,
        fused_head: bool | None = None,
        fused_chunk_size: int = 512,
        prefix_sharing: bool | None = None,
        on_nonfinite_grad: str = "stop",
        max_consecutive_skips: int = 10,
        share_cost_embedding: bool = True,
        grad_share_every: int = 50,
        weight_shares: dict[str, float] | None = None,
        loss_ratio: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        silence_library_notices()
        if isinstance(lora, dict):  # from a checkpoint's hyperparameters (load_from_checkpoint)
            lora = LoraSettings(**lora)
        check_choice("reference", reference, REFERENCE_MODES)
        if not isinstance(getattr(torch, model_dtype, None), torch.dtype):
            raise ValueError(f"'model_dtype' must name a torch dtype, got {model_dtype!r}")
        # Callables and dataclasses would make checkpoints unloadable with torch.load(weights_only=True):
        # keep them as attributes and record the LoRA settings as a plain dict.
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler", "lora"])
        self.hparams["lora"] = asdict(lora) if lora is not None else None
        self.optimizer_factory, self.lr_scheduler_factory = optimizer, lr_scheduler
        self.loss = CompositeLoss(list(losses), list(weights), loss_args, loss_ratio)
        self.grad_shares = GradShares(self.loss.names, grad_share_every, weight_shares)
        both = sorted(set(self.grad_shares.targets) & set(self.loss.loss_ratio))
        if both:
            raise ValueError(f"'{both[0]}' is in both 'weight_shares' and 'loss_ratio': give it one of them")
        self.hparams["loss_args"] = self.loss.loss_args  # plain dicts of the losses in use
        self.reward_beta = reward_beta(self.loss, metrics_beta)
        self.fused_head = fused_mode(self.loss, fused_head)
        settings = ReferenceSettings(
            model,
            model_dtype,
            self.hparams["lora"],
            reference_cache_dir,
            self.loss.needs.reference_topk,
            None if self.fused_head is False else fused_chunk_size,
            self.fused_head is True,
        )
        self.reference_mode: ReferenceMode = REFERENCE_MODES[reference](settings)
        self.policy: torch.nn.Module | None = None
        self.reference: torch.nn.Module | None = None
        # The terms' frozen ground-cost embedding, given to the heads. A plain attribute, not a buffer:
        # precision plugins (bf16-true), FSDP mixed precision and DDP's buffer broadcast act on buffers only;
        # it must stay the fp32 embedding taken at start and never travel between processes.
        self.cost_embedding: Tensor | CostEmbedding | None = None
        self.stage_metrics: StageMetrics | None = None
        self._share_note = False
        self._batch_idx: int | str = "?"
        NonFiniteGuard(on_nonfinite_grad, max_consecutive_skips)  # validates the choice early

    # ----------------------------------------------------------------------------------------- building
    @property
    def uses_reference(self) -> bool:
        """Whether any loss term needs the reference (log-probs or top-K)."""
        return self.loss.needs.reference or self.loss.needs.reference_topk > 0

    @override
    def setup(self, stage: str) -> None:
        # After the datamodule's setup, before the models load: SFT data with a loss that needs pairs fails here.
        data = self._preference_data()
        if self.loss.needs.rejected and data is not None:
            data.require_pairs(self.hparams.losses)
        reason = sharded_reason(self._trainer.strategy) if self._trainer is not None else None
        if reason and self.grad_shares.targets:
            raise ValueError(f"'weight_shares' cannot be calibrated here: {reason}")

    @override
    def configure_model(self) -> None:
        if self.policy is not None:  # Lightning may call this more than once (e.g. fit then validate)
            return
        from plot_lightning.models.loading import load_causal_lm

        hp = self.hparams
        policy = load_causal_lm(hp.model, dtype=getattr(torch, hp.model_dtype))
        if hp.get("disable_dropout", True):
            disable_dropout(policy)
        if self.uses_reference:
            self.reference = self.reference_mode.setup(policy, self._trainer)
        # Frozen OT cost embedding, taken before LoRA and sharding (under FSDP the live weight is a shard).
        if self.loss.needs.cost is not None:
            if self.reference is not None and self._shares_cost_embedding():
                # the frozen reference's lm_head is the start embedding: read it instead of a V x d copy
                self.cost_embedding = CostEmbedding.shared(output_embedding_weight(self.reference))
            else:  # normalise_embedding writes a new fp32 tensor (V x d: ~250 MB at V=128k), built only here
                self.cost_embedding = normalise_embedding(output_embedding_weight(policy).detach()).to(
                    torch.float32
                )
        if hp.lora is not None:
            policy = apply_lora(policy, LoraSettings(**hp.lora))
            if hp.get("disable_dropout", True):
                disable_dropout(policy)  # the adapters' own dropout
        if hp.gradient_checkpointing:
            policy.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        # from_pretrained returns eval mode and Lightning 2.6 keeps module modes at fit start: train explicitly.
        self.policy = policy.train()
        self.stage_metrics = StageMetrics(hp.losses, self._subpreference_names())
        if self.device_mesh is not None:  # FSDP2 via ModelParallelStrategy
            for model in (self.reference, self.policy):
                if model is not None:
                    fully_shard_model(model, self.device_mesh)

    def _shares_cost_embedding(self) -> bool:
        """Whether PLOT's cost can read the reference's output embedding (see ``share_cost_embedding``): no
        precision plugin will cast it and no strategy will shard it."""
        if not self.hparams.get("share_cost_embedding", True) or self.loss.needs.cost is None:
            return False
        if output_embedding_weight(self.reference).dtype != torch.float32:
            return False
        trainer = self._trainer  # outside a Trainer nothing will cast or shard it behind our back
        return trainer is None or weights_stay_fp32_and_whole(trainer.strategy, trainer.precision)

    def _preference_data(self) -> PreferenceData | None:
        datamodule = self._trainer.datamodule if self._trainer is not None else None
        return datamodule if isinstance(datamodule, PreferenceData) else None

    def _subpreference_names(self) -> list[str]:
        data = self._preference_data()
        return list(data.subpreferences) if data is not None and data.subpreferences else ["all"]

    @override
    def train(self, mode: bool = True) -> PLOTModule:
        super().train(mode)
        if self.reference is not None:
            self.reference.eval()  # frozen: never dropout, whatever Lightning switches
        return self

    # ----------------------------------------------------------------------------------------- the step
    def _reference_outputs(self, aligned, batch: Mapping, stage: str) -> ReferenceOutputs | None:
        if not self.uses_reference:
            return None
        return self.reference_mode.outputs(self.policy, self.reference, aligned, batch, stage)

    def _shared_step(self, batch: Mapping, stage: str) -> Tensor:
        """One concatenated chosen+rejected forward, the composite loss and the stage's metrics.

        A non-finite log-prob or loss raises (never a silent NaN) naming the stage, step and terms.
        """
        where = f"{stage} step {self.global_step} (batch {self._batch_idx})"
        try:
            aligned = align_batch(batch, self.hparams.get("prefix_sharing", False))
            reference = self._reference_outputs(aligned, batch, stage)
            forward = self._policy_forward(aligned, reference)
            total, terms = self.loss(forward, self._log_grad_shares if stage == "train" else None)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        bad = [name for name, value in terms.items() if not bool(torch.isfinite(value.detach()).all())]
        if bad:
            raise FloatingPointError(f"{where}: non-finite loss term(s) {bad}")
        metrics = preference_metrics(forward, self.reward_beta)
        terms = drop_duplicate_rewards(self.loss, terms, self.reward_beta)
        self.stage_metrics.log_step(self.log, stage, {**terms, **metrics}, forward.chosen.logps.shape[0])
        if stage == "val" and len(self.stage_metrics.subpreferences) > 1:
            self.stage_metrics.update_subpreferences(forward, batch["subpreference_id"], self._values)
        return total

    def _log_grad_shares(self, means: dict[str, Tensor], factors: dict) -> None:
        """Measure (and calibrate) the gradient shares when due; calibrated weights go into ``factors``."""
        shares = self.grad_shares
        logs = shares.weight_logs()
        if torch.is_grad_enabled() and shares.due(self.global_step):
            reason = sharded_reason(self._trainer.strategy) if self._trainer is not None else None
            if reason is None:
                params = [p for p in self.policy.parameters() if p.requires_grad]
                logs = shares.measure(means, factors, params, self._reduce_mean)
                for name, weight in shares.calibrated.items():
                    self.loss.set_weight(name, weight)
            elif not self._share_note:
                rank_zero_warn(reason)
                self._share_note = True
        for name, value in logs.items():  # equal on every rank already: no second sync
            self.log(f"train/{name}", value, on_step=True, on_epoch=False, sync_dist=False, batch_size=1)

    def _reduce_mean(self, tensor: Tensor) -> Tensor:
        trainer = self._trainer
        return tensor if trainer is None else trainer.strategy.reduce(tensor, reduce_op="mean")

    def _policy_forward(self, aligned, reference: ReferenceOutputs | None) -> PreferenceForward:
        if self.cost_embedding is not None:  # a plain attribute (see __init__): moved once, here
            self.cost_embedding = self.cost_embedding.to(self.device)
        required = self.fused_head is True
        if self.fused_head is not False and use_fused(
            self.policy, aligned.input_ids, aligned.attention_mask, required
        ):
            policy, chunk = self.policy, self.hparams.fused_chunk_size
        else:
            policy, chunk = model_logits(self.policy, aligned), None
        return policy_preference_forward(
            policy, aligned, reference, self.loss.needs, self.cost_embedding, chunk
        )

    def _values(self, forward: PreferenceForward) -> dict[str, Tensor]:
        """The loss terms and preference metrics of ``forward`` (a subset of a validation batch)."""
        _, terms = self.loss(forward)
        return {**terms, **preference_metrics(forward, self.reward_beta)}

    @override
    def on_validation_epoch_end(self) -> None:
        """Log each subpreference's exact means (a subpreference without validation rows logs nothing)."""
        if self.stage_metrics is None or len(self.stage_metrics.subpreferences) < 2:
            return
        for key, value in self.stage_metrics.subpreference_means().items():
            self.log(key, value, on_step=False, on_epoch=True, sync_dist=False)

    @override
    def training_step(self, batch: Mapping, batch_idx: int) -> Tensor:
        self._batch_idx = batch_idx
        return self._shared_step(batch, "train")

    @override
    def validation_step(self, batch: Mapping, batch_idx: int) -> Tensor:
        self._batch_idx = batch_idx
        return self._shared_step(batch, "val")

    # ----------------------------------------------------------------------------------------- checkpoints
    @override
    def configure_callbacks(self) -> list[pl.Callback]:
        hp = self.hparams
        return [
            NonFiniteGuard(hp.on_nonfinite_grad, hp.max_consecutive_skips),
            RNGStateCallback(),
            FinalCheckpoint(),
            LeftoverPartials(),
            ReferenceEvalModeNote(),
        ]

    @override
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        strip_reference(checkpoint, self._trainer)
        checkpoint["calibrated_weights"] = dict(self.grad_shares.calibrated)

    @override
    def on_load_checkpoint(self, checkpoint: dict) -> None:
        restore_reference(checkpoint, self.reference)
        for name, weight in checkpoint.get("calibrated_weights", {}).items():
            self.grad_shares.calibrated[name] = float(weight)
            self.loss.set_weight(name, weight)

    # ----------------------------------------------------------------------------------------- optimizer
    @override
    def optimizer_step(self, epoch: int, batch_idx: int, optimizer, optimizer_closure=None) -> None:
        """The step, then the gradients freed at once: Lightning frees them in the next step's closure, after
        its forward, which would then run beside a stale gradient of every trainable weight (as TRL's does not)."""
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        optimizer.zero_grad(set_to_none=True)

    @override
    def configure_optimizers(self):
        trainable = [p for p in self.policy.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(trainable)
        scheduler = self.lr_scheduler_factory(optimizer) if self.lr_scheduler_factory is not None else None
        scheduler = with_warmup(optimizer, scheduler, self.hparams.warmup_steps)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
