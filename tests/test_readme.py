"""The README's code cannot drift from the code: its Python examples run, its commands use the venv's
executables, and every ``plot-lightning`` / ``plot-eval`` command parses with the real parsers."""

from __future__ import annotations

import re
import shlex
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL)
PYTHON = [code for language, code in BLOCKS if language == "python"]
PROJECT_COMMANDS = ("plot-lightning", "plot-eval", "python", "mlflow", "torchrun", "pytest", "pip")
EVALUATES_THE_DEMO = "from plot_eval import evaluate"  # reads what `plot-lightning demo` writes


def _commands() -> list[list[str]]:
    """Shell words of every command in the bash blocks: continuations joined, comments, ``&&`` split."""
    commands = []
    for language, code in BLOCKS:
        if language != "bash":
            continue
        for line in code.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            for part in line.split("&&"):
                words = shlex.split(part.split(">", 1)[0])  # drop a redirection
                if words:
                    commands.append(words)
    return commands


def _program(words: list[str]) -> list[str]:
    """The words from the project command on (after ``srun`` or an ``X=1`` environment setting)."""
    while words and (words[0] == "srun" or re.match(r"^\w+=", words[0])):
        words = words[1:]
    return words


def test_the_readme_has_examples():
    assert len(PYTHON) >= 3 and len(_commands()) >= 20


def test_commands_use_the_venv_executables():
    """After `bash .ci/setup`, a project command without `.venv/bin/` would run whatever is on PATH."""
    bare = []
    for words in _commands():
        words = _program(words)
        if words[:3] == ["python", "-m", "venv"]:  # creating the venv itself
            continue
        if Path(words[0]).name in PROJECT_COMMANDS and not words[0].startswith(".venv/bin/"):
            bare.append(" ".join(words))
    assert bare == []


def _plot_lightning_argv(words: list[str]) -> list[str] | None:
    words = _program(words)
    if words[0] == ".venv/bin/plot-lightning":
        return words[1:]
    if words[0] == ".venv/bin/torchrun" and "plot_lightning" in words:
        return words[words.index("plot_lightning") + 1 :]
    return None


TRAINING = [
    argv for argv in map(_plot_lightning_argv, _commands()) if argv and argv[0] in ("fit", "validate")
]


@pytest.mark.parametrize("argv", TRAINING, ids=[" ".join(a)[:60] for a in TRAINING])
def test_training_commands_parse(argv, monkeypatch):
    """Each `fit`/`validate` line parses (configs, flags, values) as far as --print_config: nothing trains."""
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    monkeypatch.chdir(ROOT)
    argv = [a for a in argv if a != "--print_config"]
    argv = ["fit" if a == "my.yaml" else a for a in argv]  # `my.yaml` is written by the line before
    if argv[1:3] == ["--config", "fit"]:
        argv[2] = "configs/dpo_plot.yaml"
    with pytest.raises(SystemExit) as exit_info:
        PLOTLightningCLI(args=[*argv, "--print_config"] if "--help" not in argv else argv)
    assert exit_info.value.code == 0


def _other_commands() -> list[list[str]]:
    found = []
    for words in map(_program, _commands()):
        if words[0] == ".venv/bin/plot-lightning" and words[1] not in ("fit", "validate"):
            found.append(words[1:])
        if words[0] == ".venv/bin/plot-eval":
            found.append(["eval", *words[1:]])
        if words[:3] == [".venv/bin/python", "-m", "experiments"]:
            found.append(["experiments", *words[3:]])
    return found


@pytest.mark.parametrize("words", _other_commands(), ids=lambda w: " ".join(w)[:50])
def test_other_commands_and_their_flags_exist(words, capsys):
    """`export`, `demo`, `tracking sync`, `plot-eval run/compare`, `python -m experiments <cmd>`: the subcommand
    exists and every flag used is in its help."""
    if words[0] == "eval":
        from plot_eval.cli import main as run
    elif words[0] == "experiments":
        from experiments.__main__ import main as run
    else:
        from plot_lightning.cli.main import main as run
    nested = words[0] in ("eval", "tracking")  # `plot-eval <cmd>` and `plot-lightning tracking <action>`
    command = words[1:2] if words[0] in ("eval", "experiments") else words[: 2 if nested else 1]
    with pytest.raises(SystemExit) as exit_info:
        run([*command, "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    flags = [w.strip("[]") for w in words if w.strip("[]").startswith("--")]
    assert [flag for flag in flags if flag not in help_text] == []


def _demo_outputs(root: Path, model_dir: Path, monkeypatch) -> None:
    """What the README's first command, `plot-lightning demo`, leaves for the eval example, with the tiny model
    standing in for both SmolLM2 folders (the demo itself takes minutes): `runs/demo/export` and the converted
    base model in $PLOT_MODEL_CACHE; `configs/` is the repository's, as in a clone."""
    (root / "runs" / "demo").mkdir(parents=True)
    (root / "runs" / "demo" / "export").symlink_to(model_dir, target_is_directory=True)
    (root / "model-cache").mkdir()
    (root / "model-cache" / "SmolLM2-135M-Instruct").symlink_to(model_dir, target_is_directory=True)
    (root / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(root / "model-cache"))


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_examples_run(index, tmp_path, monkeypatch, tiny_model_dir):
    """Each Python block runs as written in an empty folder (so it must not need or leave files there); the
    eval example runs in a folder holding what the README's earlier commands wrote, and writes its results."""
    code = PYTHON[index]
    evaluates = EVALUATES_THE_DEMO in code
    if evaluates:
        _demo_outputs(tmp_path, tiny_model_dir, monkeypatch)
    before = set(tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    # A real module object, as a user's file would be: dataclasses and pickling look classes up by module.
    module = types.ModuleType(f"readme_block_{index}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    exec(compile(code, f"README.md python block {index}", "exec"), namespace)  # noqa: S102 - our own README
    if evaluates:
        results = namespace["results"]
        assert results["models"]["model"]["name"] == str((tmp_path / "runs/demo/export").resolve())
        assert results["models"]["baseline"]["name"].startswith("in-memory:")
        assert (
            results["subpreferences"]["math"]["winrate"]["n"]
            + results["subpreferences"]["math"]["winrate"]["invalid"]
            == 1
        )  # limit=1: the one GSM8K prompt
        assert {"results.json", "samples.jsonl", "report.md"} <= {
            p.name for p in (tmp_path / "eval-out" / "demo-api").iterdir()
        }
        return
    assert set(tmp_path.iterdir()) == before  # the examples say they write nothing; they do not
    if "plot_transport_cost" in code:
        cost = namespace["cost"]
        assert cost.shape == (2,) and bool(((cost >= 0) & (cost <= 2)).all())
    if "trainer.fit" in code:
        assert namespace["trainer"].global_step == 2


WRITES = ("--output_dir", "--output-dir", "--out", "--trainer.default_root_dir")
EXAMPLE_FOLDERS = ("runs/", "eval-out/")


def _written_by(words: list[str]) -> list[str]:
    """Folders a README command writes: its output flags, `demo`'s default folder, a `fit` config's
    default_root_dir."""
    import inspect

    import yaml

    from plot_lightning.demo import run_demo

    words = _program(words)
    written = [words[i + 1] for i, word in enumerate(words[:-1]) if word in WRITES]
    if words[:2] == [".venv/bin/plot-lightning", "demo"] and "--out" not in words:
        written.append(str(inspect.signature(run_demo).parameters["out_dir"].default))
    if words[1:2] == ["fit"] and "--config" in words:
        config = ROOT / words[words.index("--config") + 1]
        if config.is_file():
            root = (yaml.safe_load(config.read_text()).get("trainer") or {}).get("default_root_dir")
            written += [root] if root else []
    return written


def test_example_folders_are_written_by_an_earlier_command():
    """A `runs/...` or `eval-out/...` path a README command reads must be written by a command above it
    (no `runs/base/export` that nothing creates)."""
    written: list[str] = []
    unwritten = []
    for words in _commands():
        outputs = _written_by(words)
        for i, word in enumerate(words):
            word = word.strip("[]")
            if i and words[i - 1] in WRITES or not word.startswith(EXAMPLE_FOLDERS):
                continue
            if not any(
                word.rstrip("/") == w.rstrip("/") or word.startswith(w.rstrip("/") + "/") for w in written
            ):
                unwritten.append(f"{word} (in: {' '.join(words)[:80]})")
        written += outputs
    assert unwritten == []
