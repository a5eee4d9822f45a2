"""Gradient shares ``train/grad_share/<term>`` = ||w_k g_k|| / ||w_0 g_0|| and calibrated weights, on the tiny
model in fp64, against an oracle that runs one separate forward and backward per term and sums squares by hand."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest

from plot_lightning.forward import align_batch
from plot_lightning.module import PLOTModule
from tests.plot_lightning.test_module import datamodule, write_pairs


@pytest.fixture
def pairs(tmp_path) -> str:
    return write_pairs(tmp_path / "pairs.jsonl", count=4)


def first_batch(pairs: str) -> dict:
    data = datamodule(pairs)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def oracle_norms(module: PLOTModule, batch: dict) -> dict[str, float]:
    """||dL_k/dtheta|| of each unweighted term: a fresh forward and ``backward()`` per term, norms by hand."""
    norms = {}
    params = [p for p in module.policy.parameters() if p.requires_grad]
    for name in module.loss.names:
        module.policy.zero_grad()
        aligned = align_batch(batch)
        forward = module._policy_forward(aligned, module._reference_outputs(aligned, batch, "train"))
        module.loss.terms[name](forward).loss.mean().backward()
        norms[name] = math.sqrt(sum(float((p.grad**2).sum()) for p in params if p.grad is not None))
    module.policy.zero_grad()
    return norms


def fit_one_step(module: PLOTModule, pairs: str, quiet_trainer, **trainer_args) -> dict:
    trainer = quiet_trainer(max_steps=1, **trainer_args)
    trainer.fit(module, datamodule=datamodule(pairs))
    return {key: float(value) for key, value in trainer.callback_metrics.items()}


@pytest.mark.parametrize(("fused_head", "checkpointing"), [(False, False), (True, False), (False, True)])
def test_logged_share_equals_separate_backward_passes(
    pairs, quiet_trainer, fused_head, checkpointing
) -> None:
    """share = 0.1 ||g_plot|| / (1.0 ||g_dpo||), with g from separate backward passes (default head, fused
    head, gradient checkpointing: its recomputation runs once per backward pass)."""
    module = PLOTModule(
        model="tiny",
        weights=[1.0, 0.1],
        model_dtype="float64",
        fused_head=fused_head,
        gradient_checkpointing=checkpointing,
    )
    module.configure_model()
    norms = oracle_norms(module, first_batch(pairs))
    logged = fit_one_step(module, pairs, quiet_trainer)
    assert norms["dpo"] > 0 and norms["plot"] > 0
    assert logged["train/grad_share/plot"] == pytest.approx(
        0.1 * norms["plot"] / norms["dpo"], rel=1e-6
    )  # logged metrics are fp32


def test_share_every_zero_logs_nothing(pairs, quiet_trainer) -> None:
    module = PLOTModule(model="tiny", model_dtype="float64", grad_share_every=0)
    assert "train/grad_share/plot" not in fit_one_step(module, pairs, quiet_trainer)


def test_a_single_term_measures_nothing(pairs, quiet_trainer) -> None:
    module = PLOTModule(
        model="tiny", losses=["dpo"], weights=[1.0], model_dtype="float64", grad_share_every=1
    )
    assert not [key for key in fit_one_step(module, pairs, quiet_trainer) if "grad_share" in key]


def test_calibrated_weight_gives_the_target_share(pairs, quiet_trainer) -> None:
    """weight = 0.15 ||g_dpo|| / ||g_plot|| at step 0, so the measured share there is 0.15."""
    module = PLOTModule(model="tiny", weights=[1.0, 0.1], model_dtype="float64", weight_shares={"plot": 0.15})
    module.configure_model()
    norms = oracle_norms(module, first_batch(pairs))
    logged = fit_one_step(module, pairs, quiet_trainer)
    expected = 0.15 * norms["dpo"] / norms["plot"]
    assert logged["train/calibrated_weight/plot"] == pytest.approx(
        expected, rel=1e-6
    )  # logged metrics are fp32
    assert logged["train/grad_share/plot"] == pytest.approx(0.15, abs=1e-6)
    assert module.loss.weights == [1.0, pytest.approx(expected, rel=1e-9)]


def test_resume_keeps_the_calibrated_weight(pairs, quiet_trainer, tmp_path) -> None:
    """The calibrated weight is in the checkpoint; a resumed run uses it instead of measuring again."""
    options = dict(model="tiny", model_dtype="float64", weight_shares={"plot": 0.15})
    first = PLOTModule(**options)
    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    quiet_trainer(max_steps=1, enable_checkpointing=True, callbacks=[checkpoint]).fit(
        first, datamodule=datamodule(pairs)
    )
    saved = first.loss.weights[1]
    resumed = PLOTModule(**options)
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(resumed, datamodule=datamodule(pairs), ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    assert resumed.loss.weights[1] == saved
    assert float(trainer.callback_metrics["train/calibrated_weight/plot"]) == pytest.approx(saved, rel=1e-6)


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ({"sft": 0.1}, "'weight_shares' names 'sft', which is not in 'losses'"),
        ({"dpo": 0.1}, "'weight_shares' cannot calibrate the base term 'dpo'"),
        ({"plot": -1.0}, "'weight_shares.plot' must be a finite number > 0, got -1.0"),
        ({"plot": float("inf")}, "'weight_shares.plot' must be a finite number > 0, got inf"),
    ],
)
def test_bad_weight_shares_are_one_line_errors(shares, message) -> None:
    with pytest.raises(ValueError) as caught:
        PLOTModule(model="tiny", weight_shares=shares)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_one_term_both_calibrated_and_rescaled_is_refused() -> None:
    with pytest.raises(ValueError, match="'plot' is in both 'weight_shares' and 'loss_ratio'"):
        PLOTModule(model="tiny", weight_shares={"plot": 0.1}, loss_ratio={"plot": 0.1})


def test_negative_grad_share_every_is_refused() -> None:
    with pytest.raises(ValueError, match="'grad_share_every' must be an integer >= 0, got -1"):
        PLOTModule(model="tiny", grad_share_every=-1)
