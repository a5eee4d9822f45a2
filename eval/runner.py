"""The Python API: `evaluate(model, baseline, suite, ...)` runs a suite and returns the results dict.

Example (also what `plot-eval run` calls)::

    from eval import evaluate
    results = evaluate("runs/dpo_plot/export", "runs/base/export", "configs/eval/quick.yaml",
                       output_dir="eval-out/dpo_plot")
    print(results["subpreferences"]["helpfulness"]["winrate"])   # {mean, ci_low, ci_high, n}

Steps: load every prompt set of the suite -> generate for model and baseline (cached) -> verdicts per
sample (cached) -> fluency / coherence scores (cached) -> lm-eval tasks (cached) -> aggregate with bootstrap
CIs -> write results.json, samples.jsonl, report.md, charts -> log to MLflow. Everything computed is appended
to `<output_dir>/cache.jsonl` as it finishes, so an interrupted run resumes where it stopped and a rerun
recomputes nothing (`results["cache"]` counts hits and misses).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eval.cache import ResultCache
from eval.cached_generation import cached_generate
from eval.judging import VerdictEngine, messages_to_text
from eval.lm_eval_stage import lm_eval_stage
from eval.model_handle import ModelHandle, ModelInput, ModelPool
from eval.quality import QualityScorer
from eval.results import RESULTS_SCHEMA_VERSION, library_versions, write_results, write_samples
from eval.sources import PromptItem, load_source
from eval.suite import JudgeSettings, PromptSet, PromptSpec, Suite, load_suite
from eval.summary import summarize_run

CACHE_FILE = "cache.jsonl"


def build_messages(item: PromptItem, spec: PromptSpec) -> list[dict[str, str]]:
    """The chat sent to the model: optional system turn, earlier turns, then the templated last user turn."""
    messages = [dict(m) for m in item.messages]
    messages[-1]["content"] = spec.template.replace("{prompt}", messages[-1]["content"])
    if spec.system:
        messages.insert(0, {"role": "system", "content": spec.system})
    return messages


def _with_overrides(suite: Suite | str | os.PathLike, judges: dict | None, scoring: dict | None) -> Suite:
    suite = load_suite(suite) if not isinstance(suite, Suite) else dataclasses.replace(suite)
    merged = dict(suite.judges)
    for kind, options in (judges or {}).items():
        base = dataclasses.asdict(merged.get(kind, JudgeSettings()))
        merged[kind] = JudgeSettings(**{**base, **options})
    suite.judges = merged
    if scoring:
        suite.scoring = dataclasses.replace(suite.scoring, **scoring)
    return suite


def _check_code_sandbox(suite: Suite) -> None:
    """Refuse before any generation when the suite runs model code and the sandbox cannot be set up."""
    if any(prompt_set.judge == "code_exec" for sub in suite.subpreferences for prompt_set in sub.sets):
        from eval.judges.sandbox import require_isolation

        require_isolation(suite.judge_settings("code_exec").allow_unsandboxed)


def _plan(suite: Suite, data_root: Path, limit: int | None) -> list[tuple[str, PromptSet, PromptItem, list]]:
    """(subpreference, set, item, chat messages) for every prompt of the suite, in suite order."""
    plan = []
    for sub in suite.subpreferences:
        for prompt_set in sub.sets:
            caps = [c for c in (prompt_set.limit, limit) if c]
            source = prompt_set.source
            items = load_source(
                source.loader, source.file, source.options, data_root, min(caps) if caps else None
            )
            plan += [(sub.name, prompt_set, item, build_messages(item, prompt_set.prompt)) for item in items]
    return plan


def _sample(
    sub: str, prompt_set: PromptSet, item: PromptItem, messages, responses, verdicts
) -> dict[str, Any]:
    win, model_ok, baseline_ok = verdicts
    return {
        "subpreference": sub,
        "set": prompt_set.name,
        "metric": prompt_set.metric,
        "judge": prompt_set.judge,
        "prompt_id": item.id,
        "prompt": messages_to_text(messages),
        "model_response": responses[0],
        "baseline_response": responses[1],
        "win": win,
        "model_ok": model_ok,
        "baseline_ok": baseline_ok,
    }


def _judge(engine: VerdictEngine, prompt_set: PromptSet, item: PromptItem, model_resp: str, base_resp: str):
    """(win, model_ok, baseline_ok) of one sample; ok = correct or refused, None for pairwise sets."""
    if prompt_set.metric == "winrate":
        return engine.pairwise(prompt_set.judge, item, model_resp, base_resp), None, None
    from eval.aggregate import outcome_win

    model_ok = engine.outcome(prompt_set.judge, item, model_resp)
    baseline_ok = engine.outcome(prompt_set.judge, item, base_resp)
    return outcome_win(model_ok, baseline_ok), model_ok, baseline_ok


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[plot-eval] {message}", file=sys.stderr, flush=True)


def evaluate(
    model: ModelInput,
    baseline: ModelInput,
    suite: Suite | str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    tracking_uri: str | None = None,
    experiment: str = "plot-eval",
    run_name: str | None = None,
    limit: int | None = None,
    judges: dict[str, dict[str, Any]] | None = None,
    scoring: dict[str, Any] | None = None,
    run_lm_eval: bool = True,
    track: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate `model` against `baseline` on `suite`; returns the results dict (also in results.json).

    `model` / `baseline`: a Hugging Face folder or an in-memory `(model, tokenizer)`. `suite`: a YAML path
    or a Suite. `data_root` overrides the suite's. `limit` caps the prompts of every set. `judges` / `scoring`
    override suite settings, e.g. `judges={"local_lm": {"model": "<folder>"}}`. `track=False` skips MLflow.
    Raises on a missing model folder, bad data row or judge failure; what finished stays in the cache.
    """
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    suite = _with_overrides(suite, judges, scoring)
    root = suite.resolve_data_root(data_root)
    _check_code_sandbox(suite)
    output_dir = Path(output_dir).expanduser().resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    handles = {"model": ModelHandle(model, role="model"), "baseline": ModelHandle(baseline, role="baseline")}
    plan = _plan(suite, root, limit)
    _log(progress, f"suite {suite.name} v{suite.version}: {len(plan)} prompts from {root}")
    samples, lm_eval, cache_stats = _collect(
        suite, handles, plan, root, limit, output_dir, run_lm_eval, progress
    )
    results = summarize_run(suite, samples, lm_eval)
    results.update(
        schema_version=RESULTS_SCHEMA_VERSION,
        models={role: handle.describe() for role, handle in handles.items()},
        data_root=str(root),
        limit=limit,
        versions=library_versions(),
        seeds={"generation": suite.generation.seed, "bootstrap": suite.scoring.seed},
        cache=cache_stats,
        started_at=started,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        output_dir=str(output_dir),
    )
    return _write_and_track(results, samples, output_dir, track, tracking_uri, experiment, run_name, progress)


def _collect(suite, handles, plan, root, limit, output_dir, run_lm_eval, progress):
    """Generations, verdicts, quality scores and lm-eval results, everything through the cache."""
    pool = ModelPool()
    with ResultCache(output_dir / CACHE_FILE) as cache:
        prompts = [messages for *_, messages in plan]
        responses = {
            role: cached_generate(handle, prompts, suite.generation, cache, progress=progress)
            for role, handle in handles.items()
        }
        engine = VerdictEngine(suite.judges, cache, pool)
        samples = []
        for i, (sub, prompt_set, item, messages) in enumerate(plan):
            pair = (responses["model"][i], responses["baseline"][i])
            verdicts = _judge(engine, prompt_set, item, *pair)
            samples.append(_sample(sub, prompt_set, item, messages, pair, verdicts))
        scorer = QualityScorer(suite.scoring, cache, pool)
        for role in ("model", "baseline"):
            scores = scorer.score([s["prompt"] for s in samples], responses[role])
            for sample, score in zip(samples, scores, strict=True):
                sample[f"{role}_scores"] = score
        lm_eval = lm_eval_stage(suite, handles, root, cache, limit) if run_lm_eval else {}
        return samples, lm_eval, cache.stats()


def _write_and_track(results, samples, output_dir, track, tracking_uri, experiment, run_name, progress):
    from eval.report import write_report

    write_samples(output_dir, samples)
    write_results(output_dir, results)
    write_report(results, output_dir)
    if track:
        try:
            from eval.tracking import log_evaluation

            results["tracking"] = log_evaluation(
                results,
                samples,
                output_dir,
                tracking_uri=tracking_uri,
                experiment=experiment,
                run_name=run_name,
            )
        except Exception as err:  # the results files are already on disk; report and go on
            results["tracking"] = {"error": f"{type(err).__name__}: {err}", "tracking_uri": tracking_uri}
            _log(True, f"MLflow tracking failed ({err}); results kept in {output_dir}")
        write_results(output_dir, results)
    _log(progress, f"results: {output_dir / 'results.json'}")
    return results
