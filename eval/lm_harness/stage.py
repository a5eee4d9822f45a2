"""The lm-eval step of a run: local tasks on model (and baseline), cached per (model, task, settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plot_eval.generation.cache import ResultCache, cache_key
from plot_eval.lm_harness.runner import TASKS_DIR
from plot_eval.models.handle import ModelHandle
from plot_eval.progress import Progress
from plot_eval.suite import Suite


def lm_eval_stage(
    suite: Suite,
    handles: dict[str, ModelHandle],
    data_root: Path,
    cache: ResultCache,
    limit: int | None,
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """{"model": {task: {metric: value}}, "baseline": {...}, "limit": n}; {} when the suite has no tasks.

    A side that cannot run lm-eval (a responses file, a served endpoint: `lm_eval_skip_reason`) is left
    out, with its reason under "skipped": {role: reason}."""
    settings = suite.lm_eval
    if not settings.tasks:
        return {}
    task_limit = min((c for c in (settings.limit, limit) if c), default=None)
    roles = ["model", "baseline"] if settings.on_baseline else ["model"]
    out: dict[str, Any] = {"limit": task_limit}
    reasons = {r: getattr(handles[r], "lm_eval_skip_reason", None) for r in roles}
    skipped = {role: reason for role, reason in reasons.items() if reason}
    if skipped:
        out["skipped"] = skipped
    for role in (r for r in roles if r not in skipped):
        handle = handles[role]
        keys = [_task_key(task, handle, suite, data_root, task_limit) for task in settings.tasks]
        values, missing = cache.lookup(keys, "lm_eval")
        with Progress("lm-eval", len(keys), f"{role} tasks", enabled=progress) as bar:
            bar.update(len(keys) - len(missing))  # cached: done already
            if missing:  # one lm-eval call for all missing tasks: its start-up cost is paid once per model
                from plot_eval.lm_harness.runner import run_lm_eval

                tasks = [settings.tasks[i] for i in missing]
                options = {"batch_size": settings.batch_size, "max_gen_toks": settings.max_gen_toks}
                computed = run_lm_eval(
                    *handle.pair, tasks, data_root, limit=task_limit, seed=suite.generation.seed, **options
                )
                for i, task in zip(missing, tasks, strict=True):
                    values[i] = computed[task]
                    cache.put(keys[i], "lm_eval", values[i])
                bar.update(len(missing))
        out[role] = dict(zip(settings.tasks, values, strict=True))
    return out


def _task_key(task: str, handle: ModelHandle, suite: Suite, data_root: Path, task_limit: int | None) -> str:
    yaml_path = TASKS_DIR / f"{task}.yaml"
    task_text = yaml_path.read_text(encoding="utf-8") if yaml_path.is_file() else task
    from plot_eval.judges.gsm8k import RULES as FINAL_NUMBER_RULES  # the plot_final_number filter's rule

    settings = (str(data_root), task_limit, suite.lm_eval.max_gen_toks, suite.generation.seed)
    return cache_key("lm_eval", handle.fingerprint, task, task_text, *settings, FINAL_NUMBER_RULES)
