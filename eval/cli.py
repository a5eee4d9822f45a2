"""`plot-eval` (also `python -m plot_eval`): run an evaluation suite, compare finished runs, or write a suite's prompts.

`run` writes results.json, samples.jsonl, report.md, charts/ and cache.jsonl (rerun the same command to
resume) and logs an MLflow run; `compare` adds the paired bootstrap difference of each later run against the
first; `prompts` writes what `run` would evaluate. Flags: `plot-eval <command> --help`."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any


def _run_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="evaluate a model against a baseline on a suite")
    _suite_arguments(run, "at most N prompts per set (and lm-eval docs)")
    _side_arguments(run, "model", "--model", "--responses", "--model-endpoint", "--model-name")
    _side_arguments(
        run, "baseline", "--baseline", "--baseline-responses", "--baseline-endpoint", "--baseline-name"
    )
    run.add_argument(
        "--endpoint-api-key-env", default=None, help="env variable with the API key sent to the endpoints"
    )
    run.add_argument(
        "--output-dir", default=None, help="default: eval-out/<suite>-<model folder name>-<hash of its path>"
    )
    run.add_argument("--tracking-uri", default=None, help="MLflow URI; default sqlite:///$PWD/mlflow.db")
    run.add_argument("--experiment", default="plot-eval", help="MLflow experiment name")
    run.add_argument("--run-name", default=None, help="MLflow run name")
    run.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    run.add_argument("--judge-model", default=None, help="HF folder for the local_lm judge")
    run.add_argument("--scorer-model", default=None, help="HF folder of the perplexity scorer LM")
    run.add_argument("--embedding-model", default=None, help="HF folder of the sentence-embedding model")
    run.add_argument(
        "--pairwise-judge",
        default=None,
        help="use this registered pairwise judge (local_lm, openai, reward_model, ...) for every win-rate set",
    )
    run.add_argument("--judge-url", default=None, help="openai judge: endpoint base URL")
    run.add_argument("--judge-name", default=None, help="openai judge: served model name")
    run.add_argument("--no-lm-eval", action="store_true", help="skip the lm-eval tasks")
    run.add_argument("--quiet", action="store_true", help="no progress output")


def _side_arguments(run, role: str, folder: str, responses: str, endpoint: str, name: str) -> None:
    """Exactly one source for `role`: a folder, a responses file, or a served endpoint (+ its model name)."""
    group = run.add_mutually_exclusive_group(required=True)
    group.add_argument(folder, help=f"Hugging Face folder of the {role}")
    group.add_argument(responses, help=f'JSONL of {{"id", "response"}}: the {role} generated elsewhere')
    group.add_argument(endpoint, help=f"OpenAI-compatible base URL serving the {role}, e.g. http://h:8000/v1")
    run.add_argument(name, help=f"served model name at {endpoint} (required with it)")
    fingerprint = name.replace("-name", "-fingerprint")
    run.add_argument(fingerprint, help=f"your tag for the weights behind {endpoint} (in its cache key)")


def _check_sides(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for prefix in ("model", "baseline"):
        endpoint, name = f"--{prefix}-endpoint", f"--{prefix}-name"
        if bool(getattr(args, f"{prefix}_endpoint")) != bool(getattr(args, f"{prefix}_name")):
            parser.error(f"{name} and {endpoint} go together (the {prefix} served at a URL)")
        if getattr(args, f"{prefix}_fingerprint") and not getattr(args, f"{prefix}_endpoint"):
            parser.error(f"--{prefix}-fingerprint is only for {endpoint}")


def _sides(args: argparse.Namespace) -> dict[str, Any]:
    """What `evaluate` gets for each side: a folder path, a ResponsesFile or an EndpointModel (argparse
    lets exactly one of the three through)."""
    from plot_eval.generation.endpoint import EndpointModel
    from plot_eval.generation.responses_file import ResponsesFile

    sides: dict[str, Any] = {}
    for role, responses in (("model", args.responses), ("baseline", args.baseline_responses)):
        endpoint = getattr(args, f"{role}_endpoint")
        if responses is not None:
            sides[role] = ResponsesFile(responses, role=role)
        elif endpoint is not None:
            served, fingerprint = getattr(args, f"{role}_name"), getattr(args, f"{role}_fingerprint")
            key_env = args.endpoint_api_key_env
            sides[role] = EndpointModel(
                endpoint, served, fingerprint=fingerprint, role=role, api_key_env=key_env
            )
        else:
            sides[role] = getattr(args, role)
    return sides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plot-eval", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    compare = sub.add_parser("compare", help="side-by-side table of finished runs")
    compare.add_argument("runs", nargs="+", help="results.json files or run output folders")
    compare.add_argument("--log", action="store_true", help="also log the comparison as an MLflow run")
    compare.add_argument("--tracking-uri", default=None)
    compare.add_argument("--experiment", default="plot-eval")
    compare.add_argument("--plain", action="store_true", help="aligned text instead of markdown")
    compare.add_argument(
        "--unpaired", action="store_true", help="skip the paired bootstrap of each run against the first"
    )
    _prompts_parser(sub)
    return parser


def _suite_arguments(parser: argparse.ArgumentParser, limit_help: str) -> None:
    parser.add_argument("--config", required=True, help="suite YAML, e.g. configs/eval/quick.yaml")
    parser.add_argument("--data-root", default=None, help="folder with the eval data (overrides the suite's)")
    parser.add_argument("--limit", type=int, default=None, help=limit_help)


def _prompts_parser(sub: argparse._SubParsersAction) -> None:
    prompts = sub.add_parser("prompts", help="write every prompt of a suite, with its id, as JSONL")
    _suite_arguments(prompts, "at most N prompts per set")
    prompts.add_argument("--out", required=True, help="JSONL file to write (replaced atomically)")


def _cmd_prompts(args: argparse.Namespace) -> int:
    from plot_eval.reports.prompts import export_prompts

    count, skipped = export_prompts(args.config, args.out, data_root=args.data_root, limit=args.limit)
    print(f"{count} prompts: {args.out}")
    if skipped:
        from plot_eval.reports.console import skipped_lines

        print("\n".join(skipped_lines(skipped)))
    return 0


def _overrides(args: argparse.Namespace, suite) -> tuple[dict[str, Any], dict[str, Any]]:
    judges: dict[str, dict[str, Any]] = {}
    if args.judge_model:
        judges["local_lm"] = {"model": args.judge_model}
    if args.judge_url or args.judge_name:
        judges["openai"] = {k: v for k, v in (("url", args.judge_url), ("model", args.judge_name)) if v}
    scorers = {
        name: {"model": folder}
        for name, folder in (("fluency", args.scorer_model), ("coherence", args.embedding_model))
        if folder and name in suite.scorers
    }
    return judges, scorers


def default_output_dir(suite_name: str, model: str, *, endpoint: str | None = None) -> Path:
    """eval-out/<suite>-<model folder name>-<8 hex of its resolved path>: two models whose folders share a
    name (runs/dpo/export, runs/dpo_plot/export) get different folders; the same model keeps its folder.
    A served model (`endpoint` URL, `model` its name) hashes URL and name instead."""
    resolved = f"{endpoint.rstrip('/')}#{model}" if endpoint else str(Path(model).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:8]
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(model).name) if endpoint else None
    return Path("eval-out") / f"{suite_name}-{name or Path(resolved).name}-{digest}"


def _cmd_run(args: argparse.Namespace) -> int:
    from plot_eval.runner import evaluate
    from plot_eval.suite import load_suite

    suite = load_suite(args.config)
    if args.pairwise_judge:
        _use_pairwise_judge(suite, args.pairwise_judge)
    model_label = args.model or args.responses or args.model_name
    output_dir = args.output_dir or default_output_dir(suite.name, model_label, endpoint=args.model_endpoint)
    judges, scorers = _overrides(args, suite)
    results = evaluate(
        **_sides(args),
        suite=suite,
        data_root=args.data_root,
        output_dir=output_dir,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        run_name=args.run_name,
        limit=args.limit,
        judges=judges,
        scorers=scorers,
        run_lm_eval=not args.no_lm_eval,
        track=not args.no_tracking,
        progress=not args.quiet,
    )
    from plot_eval.reports.console import run_lines

    print("\n".join(run_lines(results)))
    return 0


def _use_pairwise_judge(suite, judge: str) -> None:
    """Every set whose metric is pairwise is judged by `judge`, which must feed such a metric."""
    from plot_eval.registry import JUDGES, METRICS

    pairwise = {name for name in METRICS.names() if METRICS.get(name).component.kind == "pairwise"}
    able = [name for name in JUDGES.names() if pairwise & set(JUDGES.get(name).metrics)]
    if judge not in able:
        raise ValueError(f"--pairwise-judge {judge!r}: not a pairwise judge; use one of {able}")
    for prompt_set in (s for sub in suite.subpreferences for s in sub.sets):
        if prompt_set.metric in pairwise:
            prompt_set.judge = judge


def _cmd_compare(args: argparse.Namespace) -> int:
    from plot_eval.reports import compare

    table = compare.comparison_table(args.runs)
    print(compare.render_table(table, markdown=not args.plain), end="")
    print(compare.comparison_notes(args.runs), end="")
    paired = [] if args.unpaired or len(args.runs) < 2 else compare.paired_comparisons(args.runs)
    paired_text = "".join("\n" + compare.render_paired(comparison) for comparison in paired)
    print(paired_text, end="")
    if args.log:
        from plot_eval.reports.tracking import log_comparison

        info = log_comparison(
            table,
            compare.render_table(table) + paired_text,
            tracking_uri=args.tracking_uri,
            experiment=args.experiment,
            paired=paired,
        )
        print(f"mlflow: {info['tracking_uri']} run {info['run_id']}")
    return 0


def _is_user_error(err: Exception) -> bool:
    """Errors with a message meant for the user (bad path, data, config, model folder, dead endpoint)."""
    # EndpointUnavailableError (and its JudgeUnavailableError) is matched by name: importing it at start-up
    # would load torch through the package imports
    named = any(kind.__name__ == "EndpointUnavailableError" for kind in type(err).__mro__)
    return isinstance(err, (ValueError, OSError)) or named


def main(argv: list[str] | None = None) -> int:
    """Entry point of `plot-eval`; returns the exit status (errors: message on stderr, status 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        _check_sides(parser, args)
    resume_hint = " (finished work is kept in the output folder's cache.jsonl: rerun to resume)"
    try:
        commands = {"run": _cmd_run, "compare": _cmd_compare, "prompts": _cmd_prompts}
        return commands[args.command](args)
    except Exception as err:
        if not _is_user_error(err):
            raise
        hint = resume_hint if args.command == "run" and not isinstance(err, FileNotFoundError) else ""
        print(f"plot-eval: error: {err}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"plot-eval: interrupted{resume_hint}", file=sys.stderr)
        return 130
