"""The ``plot-lightning`` command line: dispatch, help texts from docstrings, ``prepare-model``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from plot_lightning.cli.main import main


@pytest.fixture
def log_to_this_tests_stderr() -> None:
    """Logging handlers made in an earlier test (Lightning's) still write to that test's closed stderr, which
    prints a "Logging error" traceback into this test's: point them at the current one."""
    import logging

    for logger in [logging.getLogger(), *logging.root.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.stderr  # not setStream: it flushes the closed stream first


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_names_every_command(capsys) -> None:
    text = _help(["--help"], capsys)
    for word in ("fit", "validate", "export", "prepare-model", "demo"):
        assert word in text


def test_fit_help_comes_from_the_docstrings(capsys) -> None:
    text = " ".join(_help(["fit", "--help"], capsys).split())
    assert "--model.losses" in text and "--data.train_files" in text and "--tracking.uri" in text
    assert "loss names combined as a weighted sum" in text  # PLOTModule's docstring
    assert "MLflow tracking URI" in text  # TrackingSettings' attribute docstring
    assert "--data.tokenizer " not in text  # linked from --model.model


@pytest.mark.parametrize("command", ["export", "prepare-model", "demo"])
def test_extra_commands_have_help(command: str, capsys) -> None:
    text = _help([command, "--help"], capsys)
    assert f"plot-lightning {command}" in text


def test_prepare_model_prints_the_folder(monkeypatch, tmp_path, capsys) -> None:
    from plot_lightning.models import prepare

    calls = []
    monkeypatch.setattr(
        prepare, "prepare_model", lambda *args, **kwargs: calls.append((args, kwargs)) or tmp_path
    )
    main(["prepare-model", "--force"])
    assert capsys.readouterr().out.strip() == str(tmp_path)
    assert calls == [(("smollm2-135m-instruct",), {"sha256": None, "chat_template": None, "force": True})]
    main(["prepare-model", "m.gguf", "--sha256", "ab", "--chat-template", "gemma"])
    assert calls[-1] == (("m.gguf",), {"sha256": "ab", "chat_template": "gemma", "force": False})


def test_prepare_model_error_is_one_line_exit_2(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as stop:
        main(["prepare-model", str(tmp_path / "absent.gguf")])
    error = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(error.splitlines()) == 1
    assert "absent.gguf: no such GGUF file" in error and "gemma-3-270m" in error


def test_demo_passes_its_options(monkeypatch) -> None:
    import plot_lightning.demo as demo

    seen = {}
    monkeypatch.setattr(demo, "run_demo", lambda **kwargs: seen.update(kwargs))
    main(["demo", "--steps", "3", "--out", "somewhere", "--no-eval"])
    assert seen == {"steps": 3, "out_dir": "somewhere", "evaluate_policy": False}


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "plot_lightning", "prepare-model", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "SmolLM2-135M-Instruct" in result.stdout


def test_package_exports_are_lazy() -> None:
    """``import plot_lightning`` does not import Lightning (~10 s); the exports resolve on first use."""
    code = (
        "import sys, plot_lightning\n"
        "assert 'lightning' not in sys.modules, 'lightning imported eagerly'\n"
        "from plot_lightning import PLOTModule, PreferenceDataModule\n"
        "assert PLOTModule.__module__ == 'plot_lightning.module'\n"
        "assert PreferenceDataModule.__name__ == 'PreferenceDataModule'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.usefixtures("log_to_this_tests_stderr")
def test_a_data_error_is_one_message_and_exit_status_2(tmp_path, capsys) -> None:
    """A bad data file through ``fit``: no traceback, the file and rows named, exit status 2."""
    from pathlib import Path

    bad = tmp_path / "pairs.jsonl"
    bad.write_text(
        '{"prompt": "q", "chosen": "", "rejected": "b"}\n{"prompt": "q", "chos\n', encoding="utf-8"
    )
    config = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"
    argv = ["fit", "--config", str(config), "--data.train_files", str(bad), "--data.val_files", "null"]
    argv += ["--tracking.mlflow", "false", "--trainer.default_root_dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"plot-lightning: error: {bad}: row 1: field 'chosen': empty string" in err
    assert f"{bad}: row 2: field '(json)': malformed JSON line" in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["directory", "missing path without a suffix"])
def test_a_bad_data_path_is_one_line_and_exit_status_2(tmp_path, kind) -> None:
    """A directory, or a missing local path without a suffix (``data/pairs`` next to a ``data`` folder):
    the real command says so in one line, exit status 2, and never asks the hub (offline variables unset)."""
    from pathlib import Path

    (tmp_path / "data").mkdir()
    spec = "data" if kind == "directory" else "data/pairs"
    config = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"
    argv = ["fit", "--config", str(config), "--data.train_files", spec, "--data.val_files", "null"]
    argv += ["--tracking.mlflow", "false", "--trainer.default_root_dir", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")}
    result = subprocess.run(
        [sys.executable, "-m", "plot_lightning", *argv], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    reason = "a directory, not a data file" if kind == "directory" else "no such data file"
    assert result.returncode == 2 and "Traceback" not in result.stderr and "Hub" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"plot-lightning: error: {spec}: {reason}"), (
        result.stderr
    )


def test_a_non_finite_loss_option_is_one_message_and_exit_status_2(tmp_path, capsys) -> None:
    from pathlib import Path

    config = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"
    override = tmp_path / "inf.yaml"
    override.write_text("model: {loss_args: {dpo: {beta: .inf}}}\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--config", str(override), "--tracking.mlflow", "false"])
    assert exit_info.value.code == 2
    assert "loss 'dpo' option 'beta' must be a finite number, got inf" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "model: {weights: [1.0, -0.1]}",
            "the weight of loss 'plot' ('weights'[1]) must be a finite number >= 0, got -0.1",
        ),
        (
            "model: {weights: [1.0, .nan]}",
            "the weight of loss 'plot' ('weights'[1]) must be a finite number >= 0, got nan",
        ),
        (
            "model: {weights: [.inf, 0.1]}",
            "the weight of loss 'dpo' ('weights'[0]) must be a finite number >= 0, got inf",
        ),
        ("model: {weights: [1.0]}", "'weights' has 1 entries but 'losses' has 2"),
        ("model: {losses: [dpo, plto]}", "unknown loss(es) ['plto'] in 'losses'"),
        ("model: {reference: copied}", "'reference' must be one of ('copy', 'lora_disabled', 'precomputed')"),
    ],
)
@pytest.mark.usefixtures("log_to_this_tests_stderr")
def test_a_bad_model_setting_is_one_message_and_exit_status_2(tmp_path, capsys, override, expected) -> None:
    """alpha (the PLOT weight) negative, NaN or infinite, and any other value the model's constructor refuses:
    one line naming the setting, exit status 2, no traceback."""
    from pathlib import Path

    config = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(override + "\n", encoding="utf-8")
    argv = ["fit", "--config", str(config), "--config", str(bad), "--tracking.mlflow", "false"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--trainer.default_root_dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.strip().splitlines()[-1].startswith(f"plot-lightning: error: {expected}")
    assert "Traceback" not in err


def test_alpha_on_the_command_line_is_refused_by_the_real_entry_point(tmp_path) -> None:
    """``plot-lightning fit ... --model.weights [1.0,-0.1]`` as a user types it: exit 2, one line on stderr."""
    from pathlib import Path

    config = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"
    command = [
        sys.executable,
        "-m",
        "plot_lightning",
        "fit",
        "--config",
        str(config),
        "--model.weights",
        "[1.0,-0.1]",
    ]
    command += ["--tracking.mlflow", "false", "--trainer.default_root_dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        result.stderr.strip().splitlines()[-1].startswith("plot-lightning: error: the weight of loss 'plot'")
    )
    assert "Traceback" not in result.stderr


def test_an_option_a_loss_does_not_have_is_exit_status_2(capsys) -> None:
    """``--model.loss_args.plot.chunk_size`` (an option PLOT does not have) stops the CLI before training."""
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                "--config",
                "configs/tiny.yaml",
                "--model.loss_args.plot.chunk_size",
                "4",
                "--print_config",
            ]
        )
    assert exit_info.value.code == 2
    assert "chunk_size" in capsys.readouterr().err


def test_export_error_is_one_line_exit_2(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["export", "--ckpt_path", str(tmp_path / "absent.ckpt"), "--output_dir", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(error.splitlines()) == 1
    assert error.startswith("plot-lightning export: error: ") and "absent.ckpt does not exist" in error
