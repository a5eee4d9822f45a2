"""The Python API: `evaluate(model, baseline, suite, ...)` runs a suite and returns the results dict.

    from plot_eval import evaluate
    results = evaluate("runs/dpo_plot/export", "<base model folder>", "configs/eval/quick.yaml",
                       output_dir="eval-out/dpo_plot")
    print(results["subpreferences"]["helpfulness"]["winrate"])   # {mean, ci_low, ci_high, n, ties, invalid}

Generations, verdicts, scores and lm-eval results go to `<output_dir>/cache.jsonl` as they finish, so an
interrupted run resumes and a rerun recomputes nothing."""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plot_eval.aggregation.aggregate import summarize_run
from plot_eval.generation.cache import ResultCache
from plot_eval.generation.cached import LocalModel
from plot_eval.judges.base import UNJUDGED, JudgeContext, programmatic_win
from plot_eval.judges.engine import VerdictEngine, messages_to_text
from plot_eval.lm_harness.stage import lm_eval_stage
from plot_eval.models.handle import ModelInput, ModelPool
from plot_eval.progress import progress_by_group, quiet_libraries
from plot_eval.registry import JUDGES, METRICS, SCORERS
from plot_eval.reports.results import RESULTS_SCHEMA_VERSION, library_versions, write_results, write_samples
from plot_eval.scorers.engine import QualityScorer
from plot_eval.sources import PromptItem
from plot_eval.sources.plan import plan_suite, sample_id
from plot_eval.suite import PromptSet, Suite, load_suite, parse_components

if TYPE_CHECKING:
    from plot_eval.generation.endpoint import EndpointModel
    from plot_eval.generation.responses_file import ResponsesFile

CACHE_FILE = "cache.jsonl"


def _merge(registry, current: dict, overrides: dict | None, where: str) -> dict:
    """Suite settings updated with per-key overrides, re-validated by each component's settings class."""
    base = {name: dataclasses.asdict(settings) for name, settings in current.items()}
    raw = {name: {**base.get(name, {}), **options} for name, options in (overrides or {}).items()}
    return {**current, **parse_components(registry, raw, where)}


def _with_overrides(suite: Suite | str | os.PathLike, judges: dict | None, scorers: dict | None) -> Suite:
    suite = load_suite(suite) if not isinstance(suite, Suite) else dataclasses.replace(suite)
    suite.judges = _merge(JUDGES, suite.judges, judges, "judges")
    suite.scorers = _merge(SCORERS, suite.scorers, scorers, "scorers")
    return suite


def checked_plan(suite: Suite, root: Path, limit: int | None, engine: VerdictEngine):
    """(plan, skipped rows): `plan_suite` with every prompt's reference checked by its judge, before any
    generation. An unreadable one raises, naming set, file and row, unless its set says `unreadable: skip`:
    then it is left out and listed in the skipped rows ({set, id, row, file, reason})."""
    skipped: list[dict[str, Any]] = []

    def usable(planned) -> bool:
        _, prompt_set, item, _ = planned
        try:
            engine.judge(prompt_set.judge).check(item)
            return True
        except ValueError as err:
            row = f"row {item.row}" if item.row is not None else f"prompt {item.id!r}"
            file = Path(root) / prompt_set.source.file
            if prompt_set.unreadable != "skip":
                raise ValueError(f"set {prompt_set.name!r} ({file}): {row}: {err}") from err
            entry = {"set": _set_label(planned), "id": item.id, "row": item.row, "file": str(file)}
            skipped.append({**entry, "reason": str(err)})
            return False

    return plan_suite(suite, root, limit, usable=usable), skipped


def attach_judge_accuracy(results: dict[str, Any], suite: Suite, engine: VerdictEngine) -> None:
    """Every outcome set's summary gets `judge_accuracy`: its judge's measured accuracy (`validation()`), or
    None when the judge has not been measured, so the metric is never read without it."""
    for sub in suite.subpreferences:
        sets = results["subpreferences"][sub.name]["sets"]
        for prompt_set in sub.sets:
            if prompt_set.name in sets and METRICS.get(prompt_set.metric).component.kind == "outcome":
                sets[prompt_set.name]["judge_accuracy"] = engine.judge(prompt_set.judge).validation()


def _sample(
    sub: str, prompt_set: PromptSet, item: PromptItem, messages, responses, verdicts
) -> dict[str, Any]:
    return {
        "subpreference": sub,
        "set": prompt_set.name,
        "metric": prompt_set.metric,
        "judge": prompt_set.judge,
        "id": sample_id(sub, prompt_set.name, item.id),
        "prompt_id": item.id,
        "prompt": messages_to_text(messages),
        "model_response": responses[0],
        "baseline_response": responses[1],
        **verdicts,
    }


def _judge(engine: VerdictEngine, prompt_set: PromptSet, item: PromptItem, model_resp: str, base_resp: str):
    """Verdict fields of one sample: win (None = invalid verdict) plus, for outcome metrics, each side's
    outcome and whether it is the metric's good outcome (`ok`)."""
    metric = METRICS.get(prompt_set.metric).component
    if metric.kind == "pairwise":
        return {"win": engine.pairwise(prompt_set.judge, item, model_resp, base_resp)}
    good = metric.good_label
    model = engine.outcome(prompt_set.judge, item, model_resp)
    baseline = engine.outcome(prompt_set.judge, item, base_resp)
    model_ok, baseline_ok = model["label"] == good, baseline["label"] == good
    unjudged = UNJUDGED in (model["label"], baseline["label"])  # an invalid verdict, never a win or a loss
    return {
        "win": None if unjudged else programmatic_win(model_ok, baseline_ok),
        "model_ok": model_ok,
        "baseline_ok": baseline_ok,
        "model_outcome": model,
        "baseline_outcome": baseline,
    }


def _set_label(step) -> str:
    return f"{step[0]}/{step[1].name}"  # subpreference/set of a plan step


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[plot-eval] {message}", file=sys.stderr, flush=True)


def evaluate(
    model: ModelInput | ResponsesFile | EndpointModel,
    baseline: ModelInput | ResponsesFile | EndpointModel,
    suite: Suite | str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    tracking_uri: str | None = None,
    experiment: str = "plot-eval",
    run_name: str | None = None,
    limit: int | None = None,
    judges: dict[str, dict[str, Any]] | None = None,
    scorers: dict[str, Any] | None = None,
    run_lm_eval: bool = True,
    track: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate `model` against `baseline` on `suite` (a YAML path or a Suite); returns the results dict.

    `model` / `baseline`: a Hugging Face folder, an in-memory `(model, tokenizer)`, a `ResponsesFile` or an
    `EndpointModel`. `limit` caps the prompts of every set; `judges` / `scorers` override suite settings, e.g.
    `judges={"local_lm": {"model": "<folder>"}}`. Raises on a missing model folder, a bad data row or a judge
    failure; what finished stays in the cache.
    """
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    suite = _with_overrides(suite, judges, scorers)
    root = suite.resolve_data_root(data_root)
    output_dir = Path(output_dir).expanduser().resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    context = JudgeContext(ModelPool())
    judge_engine = VerdictEngine(suite.judges, None, context)
    plan, skipped = checked_plan(suite, root, limit, judge_engine)  # before any generation
    _log(progress, f"suite {suite.name} v{suite.version}: {len(plan)} prompts from {root}")
    _log(progress and bool(skipped), f"skipped {len(skipped)} unreadable row(s): see results.json 'skipped'")
    handles = {"model": _as_side(model, "model"), "baseline": _as_side(baseline, "baseline")}
    _check_sides(handles, plan, suite, root, limit)
    with quiet_libraries(not progress):
        samples, lm_eval, cache_stats = _collect(
            suite, handles, plan, root, limit, output_dir, run_lm_eval, progress, context
        )
    results = summarize_run(suite, samples, lm_eval)
    attach_judge_accuracy(results, suite, judge_engine)
    results.update(
        schema_version=RESULTS_SCHEMA_VERSION,
        models={role: handle.describe() for role, handle in handles.items()},
        data_root=str(root),
        limit=limit,
        skipped=skipped,
        versions=library_versions(),
        seeds={"generation": suite.generation.seed, "bootstrap": suite.scoring.seed},
        cache=cache_stats,
        started_at=started,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        output_dir=str(output_dir),
    )
    return _write_and_track(results, samples, output_dir, track, tracking_uri, experiment, run_name, progress)


def _as_side(spec: Any, role: str):
    """`spec` itself when it is already a side (it has `respond`: a `ResponsesFile`, an `EndpointModel`), else
    a `LocalModel` loaded here from a folder or a `(model, tokenizer)` pair. Every side has `role`,
    `fingerprint`, `describe()`, `check(ids, known)`, `respond(ids, prompts, settings, cache, progress=)` and
    `lm_eval_skip_reason` (None when lm-eval tasks can run on it)."""
    return spec if hasattr(spec, "respond") else LocalModel(spec, role=role)


def _check_sides(handles, plan, suite: Suite, root: Path, limit: int | None) -> None:
    """A responses file that does not answer the plan fails before any work; under `limit`, its answers to
    prompts of the suite that the limit leaves out are ignored."""
    known = [prompt.id for prompt in plan_suite(suite, root)] if limit else None
    for handle in handles.values():
        handle.check([prompt.id for prompt in plan], known)


def _collect(suite, handles, plan, root, limit, output_dir, run_lm_eval, progress, context):
    """Generations, verdicts, quality scores and lm-eval results, everything through the cache."""
    with ResultCache(output_dir / CACHE_FILE) as cache:
        prompts, ids = [prompt.messages for prompt in plan], [prompt.id for prompt in plan]
        responses = {
            role: handle.respond(ids, prompts, suite.generation, cache, progress=progress)
            for role, handle in handles.items()
        }
        engine = VerdictEngine(suite.judges, cache, context)
        samples = []
        judged = progress_by_group(plan, "judge", _set_label, enabled=progress)
        for i, (sub, prompt_set, item, messages) in enumerate(judged):
            pair = (responses["model"][i], responses["baseline"][i])
            verdicts = _judge(engine, prompt_set, item, *pair)
            samples.append(_sample(sub, prompt_set, item, messages, pair, verdicts))
        scorer = QualityScorer(suite.scorers, cache, context, progress=progress)
        for role in ("model", "baseline"):
            scores = scorer.score([s["prompt"] for s in samples], responses[role], role)
            for sample, score in zip(samples, scores, strict=True):
                sample[f"{role}_scores"] = score
        lm_eval = lm_eval_stage(suite, handles, root, cache, limit, progress=progress) if run_lm_eval else {}
        for role, reason in lm_eval.get("skipped", {}).items():
            _log(progress, f"lm-eval skipped for the {role}: {reason}")
        return samples, lm_eval, cache.stats()


def _write_and_track(results, samples, output_dir, track, tracking_uri, experiment, run_name, progress):
    from plot_eval.reports.report import write_report

    write_samples(output_dir, samples)
    write_results(output_dir, results)
    write_report(results, output_dir)
    if track:
        try:
            from plot_eval.reports.tracking import log_evaluation

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
