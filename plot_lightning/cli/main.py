"""Entry point of ``plot-lightning`` and ``python -m plot_lightning``.

How to run::

    plot-lightning demo                                   # the whole demo: prepare, train, export, evaluate
    plot-lightning fit --config configs/dpo_plot.yaml     # LightningCLI subcommands: fit, validate
    plot-lightning fit --config configs/dpo_plot.yaml --trainer.devices 2   # DDP on 2 processes
    plot-lightning export --ckpt_path runs/.../last.ckpt --config configs/dpo_plot.yaml --output_dir out/
    plot-lightning prepare-model                          # convert SmolLM2-135M-Instruct once (offline)
    plot-lightning prepare-model gemma-3-270m             # or a known packaged GGUF, or any .gguf path
    plot-lightning tracking sync runs/x/lightning_logs/version_0   # CSV metrics -> the run's MLflow run

The experiments that measure whether PLOT helps are tooling in the repository, not commands of the installed
package: ``python -m experiments`` from a checkout (README, "Does PLOT help?").

``fit`` and ``validate`` go to the LightningCLI (:mod:`plot_lightning.cli.lightning_cli`); the other
commands are plain argparse parsers defined here, so they start without importing Lightning.
"""

from __future__ import annotations

import argparse
import sys


def _export(args: argparse.Namespace) -> None:
    """Write a trained policy as a Hugging Face folder (model + tokenizer) for from_pretrained and eval/. Reads
    a single-file checkpoint, an FSDP1 sharded folder or an FSDP2 (DCP) folder; LoRA adapters are merged into
    the base weights."""
    from plot_lightning.export import export_checkpoint

    folder = export_checkpoint(args.ckpt_path, args.output_dir, config_path=args.config)
    print(f"exported policy to {folder}")


def _prepare_model(args: argparse.Namespace) -> None:
    """Convert a GGUF model once into a cached fp32 Hugging Face folder ($PLOT_MODEL_CACHE or
    ~/.cache/plot-lightning/models), after checking its SHA256; prints the folder's path."""
    from plot_lightning.models.prepare import prepare_model

    print(prepare_model(args.source, sha256=args.sha256, chat_template=args.chat_template, force=args.force))


def _demo(args: argparse.Namespace) -> None:
    """DPO + PLOT on SmolLM2-135M-Instruct with the committed sample pairs, on CPU: convert the model (once),
    train (configs/demo.yaml), export the policy, then evaluate it against the base model when the eval package
    is installed. Prints where the checkpoint, export and MLflow run are."""
    from plot_lightning.demo import run_demo

    run_demo(steps=args.steps, out_dir=args.out, evaluate_policy=not args.no_eval)


def _sync(args: argparse.Namespace) -> None:
    """Deliver a finished run's CSV metrics (lightning_logs/version_N/metrics.csv) and its recorded name, tags,
    params and end state (version_N/mlflow_run.json) to its MLflow run, creating the run if it was never
    created, e.g. after the tracking server was down; adds only what MLflow lacks; a run left RUNNING gets its
    recorded end state, or KILLED if its process died."""
    from plot_lightning.tracking.sync import sync_run

    report = sync_run(args.version_dir, uri=args.uri, experiment=args.experiment)
    status = f"; status set to {report.status_set}" if report.status_set else ""
    print(
        f"MLflow run {report.run_id}: {report.added} metric values added, {report.already_there} already there{status}"
    )


def _parser() -> argparse.ArgumentParser:
    """The commands other than ``fit``/``validate``: each one's description is its function's docstring."""
    from plot_lightning.models.chat_templates import CHAT_TEMPLATES
    from plot_lightning.models.known_gguf import KNOWN_GGUFS

    parser = argparse.ArgumentParser(prog="plot-lightning")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run, parent=commands, **kwargs) -> argparse.ArgumentParser:
        subparser = parent.add_parser(name, description=run.__doc__, **kwargs)
        subparser.set_defaults(run=run)
        return subparser

    export = command("export", _export)
    export.add_argument("--ckpt_path", required=True, help="checkpoint file (.ckpt) or sharded folder")
    export.add_argument(
        "--config", help="the training config (YAML, 'model' section); default: the checkpoint's"
    )
    export.add_argument("--output_dir", required=True, help="folder to write (created; must be empty)")
    prepare = command("prepare-model", _prepare_model)
    prepare.add_argument(
        "source",
        nargs="?",
        default="smollm2-135m-instruct",
        help=f"a known packaged model ({', '.join(KNOWN_GGUFS)}) or the path of any .gguf file "
        "(default: SmolLM2-135M-Instruct)",
    )
    prepare.add_argument("--sha256", help="expected SHA256 of a .gguf path: refused on mismatch")
    prepare.add_argument(
        "--chat-template",
        help=f"for a .gguf that carries none: a known template ({', '.join(CHAT_TEMPLATES)}) or a Jinja file",
    )
    prepare.add_argument("--force", action="store_true", help="convert again even if the folder exists")
    demo = command("demo", _demo)
    demo.add_argument("--steps", type=int, help="training steps (default: the config's)")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--no-eval", action="store_true", help="skip the evaluation step")
    actions = commands.add_parser("tracking", description="Tracking maintenance.").add_subparsers(
        dest="action", required=True
    )
    sync = command("sync", _sync, parent=actions, help="deliver a run's CSV metrics to MLflow")
    sync.add_argument("version_dir", help="the run's lightning_logs/version_N folder")
    sync.add_argument("--uri", help="MLflow tracking URI (default: the one in mlflow_run.json)")
    sync.add_argument("--experiment", default="plot-lightning", help="experiment of a new run (no record)")
    return parser


_COMMANDS = ("export", "prepare-model", "demo", "tracking")


def main(argv: list[str] | None = None) -> None:
    """Run ``plot-lightning`` with ``argv`` (default: ``sys.argv[1:]``)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in _COMMANDS:
        from plot_lightning.tracking.store import StoreError

        args = _parser().parse_args(words)
        try:
            args.run(args)
        except (FileNotFoundError, ValueError, StoreError) as error:  # a wrong path, name, file or store
            print(f"plot-lightning {args.command}: error: {error}", file=sys.stderr)
            sys.exit(2)
        return
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI, SettingsError
    from plot_lightning.data.errors import DataError
    from plot_lightning.losses.options import LossOptionError

    try:
        PLOTLightningCLI(args=argv)  # None: LightningCLI reads sys.argv itself
    except (DataError, LossOptionError, SettingsError) as error:  # the user's data or config: one message
        print(f"plot-lightning: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
