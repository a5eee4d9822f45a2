"""The lm-eval stage of a run: cached task results are reused without loading the model, with progress."""

from __future__ import annotations

from pathlib import Path

from plot_eval.generation.cache import ResultCache
from plot_eval.lm_harness.stage import _task_key, lm_eval_stage
from plot_eval.models.handle import ModelHandle
from plot_eval.suite import load_suite

QUICK = Path(__file__).resolve().parents[3] / "configs" / "eval" / "quick.yaml"


def test_cached_tasks_are_reused_and_counted_in_the_progress_lines(tmp_path, tiny_model_dir, capsys):
    suite = load_suite(QUICK)
    suite.lm_eval.on_baseline = False
    handle = ModelHandle(tiny_model_dir, role="model")
    root = tmp_path / "data"
    stored = {task: {"acc": 0.25 + i} for i, task in enumerate(suite.lm_eval.tasks)}
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        for task, value in stored.items():
            cache.put(_task_key(task, handle, suite, root, suite.lm_eval.limit), "lm_eval", value)
        out = lm_eval_stage(suite, {"model": handle}, root, cache, None, progress=True)
    assert out["model"] == stored and handle._pair is None  # never loaded
    total = len(stored)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" | ")[0] for line in lines] == [
        f"[lm-eval] model tasks 0/{total}",
        f"[lm-eval] model tasks {total}/{total}",
    ]
