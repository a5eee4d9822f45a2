"""Loss options on the command line: listed in ``fit --help`` with docs and types; a wrong name or type is
one error naming the loss, the option and the valid options (exit status 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plot_lightning.cli.lightning_cli import PLOTLightningCLI
from plot_lightning.cli.loss_errors import loss_option_hint

TINY = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        PLOTLightningCLI(args=list(args), run=True)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_fit_help_lists_every_loss_option_with_doc_and_type(capsys):
    code, out, _ = _run(capsys, "fit", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert (
        "--model.loss_args.plot.epsilon EPSILON entropic regularisation, as POT's ``reg`` (sinkhorn). (type: float, default: 0.05)"
        in flat
    )
    assert "--model.loss_args.sft.reduction {token,example}" in flat
    assert "--model.loss_args.orpo.nll {prompt_and_response,response}" in flat


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "model: {loss_args: {plot: {epsilom: 0.1}}}",
            ["'model.loss_args.plot.epsilom'", "loss 'plot' options: variant:"],
        ),
        (
            'model: {loss_args: {dpo: {beta: "Infinity"}}}',
            ["model.loss_args.dpo.beta", "Infinity", "loss 'dpo' options: beta: float = 0.1"],
        ),
        ("model: {loss_args: {dpx: {beta: 1}}}", ["'dpx' is not a loss; losses with options: ['aot'"]),
    ],
)
def test_a_wrong_option_is_one_error_with_the_valid_choices(capsys, tmp_path, yaml_text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text + "\n", encoding="utf-8")
    code, _, err = _run(
        capsys, "fit", "--config", str(TINY), "--config", str(config), "--tracking.mlflow", "false"
    )
    assert code == 2
    assert "Traceback" not in err
    for text in expected:
        assert text in err


def test_hint_ignores_other_errors():
    assert loss_option_hint("Key 'trainer.max_step' is not expected") == ""


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("model: {weight_shares: {dpo: 0.15}}", "'weight_shares' cannot calibrate the base term 'dpo'"),
        ("model: {loss_ratio: {plot: -0.5}}", "'loss_ratio.plot' must be a finite number > 0, got -0.5"),
        ("model: {weight_shares: {sft: 0.1}}", "'weight_shares' names 'sft', which is not in 'losses'"),
    ],
)
def test_a_bad_share_option_is_one_line_exit_2(capsys, tmp_path, yaml_text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text + "\n", encoding="utf-8")
    from plot_lightning.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(TINY), "--config", str(config), "--tracking.mlflow", "false"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("plot-lightning: error: ")
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
