"""lm-evaluation-harness on the local task YAMLs in eval/lm_harness/tasks, fully offline.

`plot_gsm8k` (exact match on the final number) and `plot_truthfulqa_mc1` (best answer vs incorrect ones, on
the held-out questions only) read local data: it is written as JSONL into a temporary folder next to copies
of the task YAMLs naming it, and lm-eval runs `HFLM` around the in-memory model with a `TaskManager` on that
folder alone. Metric keys lose their commas, which MLflow rejects: `acc,none` -> `acc`,
`exact_match,final_number` -> `exact_match_final_number`."""

from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml

from plot_eval.sources import load_source

TASKS_DIR = Path(__file__).parent / "tasks"
TASK_DATA = {
    "plot_gsm8k": (
        "gsm8k",
        "gsm8k/test.jsonl",
        {"exclude_paired_file": "gsm8k/example_model_solutions.jsonl"},
    ),
    "plot_truthfulqa_mc1": ("truthfulqa", "truthfulqa/TruthfulQA.csv", {"split": "holdout"}),
}


def _task_rows(task: str, data_root: Path) -> list[dict[str, Any]]:
    loader, file, options = TASK_DATA[task]
    options = {k: v for k, v in options.items() if not k.endswith("_file") or (data_root / v).is_file()}
    items = load_source(loader, file, options, data_root)
    if task == "plot_gsm8k":
        from plot_eval.judges.gsm8k import extract_final_number  # the same rule as the task's filter

        return [
            {"question": it.messages[-1]["content"], "gold": extract_final_number(it.reference["gold"])}
            for it in items
        ]
    return [
        {
            "question": it.messages[-1]["content"],
            "choices": [it.reference["best_answer"], *it.reference["incorrect_answers"]],
            "label": 0,
        }
        for it in items
    ]


def prepare_tasks(tasks: list[str], data_root: Path, folder: Path, *, max_gen_toks: int) -> None:
    """Write each task's data as JSONL and its YAML (data_files filled in) into `folder`."""
    for task in tasks:
        if task not in TASK_DATA:
            raise ValueError(f"unknown lm-eval task {task!r}; shipped local tasks: {sorted(TASK_DATA)}")
        data_file = folder / f"{task}.jsonl"
        with data_file.open("w", encoding="utf-8") as handle:
            for row in _task_rows(task, data_root):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        config = yaml.safe_load((TASKS_DIR / f"{task}.yaml").read_text(encoding="utf-8"))
        split = next(iter(config["dataset_kwargs"]["data_files"]))
        config["dataset_kwargs"]["data_files"] = {split: str(data_file)}
        if config.get("output_type") == "generate_until":
            config["generation_kwargs"]["max_gen_toks"] = max_gen_toks
        (folder / f"{task}.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def rename_metrics(task_results: dict[str, Any]) -> dict[str, float]:
    """{'acc,none': x, 'acc_stderr,none': s, 'alias': ..} -> {'acc': x, 'acc_stderr': s} (finite numbers only)."""
    renamed = {}
    for key, value in task_results.items():
        if "," not in key or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        metric, filter_name = key.split(",", 1)
        name = metric if filter_name == "none" else f"{metric}_{filter_name}"
        if math.isfinite(float(value)):
            renamed[name.replace(",", "_")] = float(value)
    return renamed


# What lm-eval logs whenever HFLM gets a model object instead of a hub name (other model arguments may be
# ignored; a single process is assumed). This runner passes exactly that, in one process, on purpose: the
# reader cannot act on either line, so they are dropped where HFLM logs them, by their exact text.
MODEL_OBJECT_NOTICES = (
    "`pretrained` model kwarg is not of type `str`",
    "Passed an already-initialized model through `pretrained`",
)


class _DropModelObjectNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(MODEL_OBJECT_NOTICES)


def _hflm(model, tokenizer, batch_size: int):
    """``HFLM`` around an in-memory model on the CPU, without its two notices about model objects."""
    from lm_eval.models.huggingface import HFLM

    logger, notices = logging.getLogger(HFLM.__module__), _DropModelObjectNotices()
    logger.addFilter(notices)
    try:
        return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device="cpu")
    finally:
        logger.removeFilter(notices)


def run_lm_eval(
    model,
    tokenizer,
    tasks: list[str],
    data_root: Path,
    *,
    limit: int | None = None,
    batch_size: int = 4,
    max_gen_toks: int = 256,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Run local lm-eval tasks on an in-memory model; returns {task: {metric: value}} with renamed keys."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from plot_eval.lm_harness import final_number_filter  # noqa: F401 (registers the plot_final_number filter)

    with tempfile.TemporaryDirectory(prefix="plot-lm-eval-") as tmp:
        folder = Path(tmp)
        prepare_tasks(tasks, Path(data_root), folder, max_gen_toks=max_gen_toks)
        lm = _hflm(model, tokenizer, batch_size)
        output = simple_evaluate(
            model=lm,
            tasks=list(tasks),
            limit=limit,
            task_manager=TaskManager(include_path=str(folder), include_defaults=False),
            log_samples=False,
            bootstrap_iters=1000,
            random_seed=seed,
            numpy_random_seed=seed,
            torch_random_seed=seed,
            fewshot_random_seed=seed,
        )
    if output is None:
        raise RuntimeError("lm-eval returned no results")
    return {task: rename_metrics(output["results"].get(task, {})) for task in tasks}
