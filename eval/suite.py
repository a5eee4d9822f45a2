"""Declarative, versioned evaluation suites (YAML) as small validated dataclasses.

A suite names, for each subpreference, one or more prompt sets: where the prompts come from (a registered
source and a file under the data root), how the chat prompt is built, which registered judge scores it and
which registered metric it feeds (eval/registry.py). `judges.<name>` and `scorers.<name>` are validated by
the component's own settings class. Load with :func:`load_suite`; every error names the file and key path."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plot_eval.registry import JUDGES, METRICS, SCORERS, SOURCES, build_settings
from plot_eval.sources.base import read_parsed

CATEGORIES = ("human_values", "logic")
SUITE_SCHEMA_VERSION = 1


class SuiteError(ValueError):
    """A suite file that does not match the schema; the message names the file and key path."""


@dataclass
class GenerationSettings:
    max_new_tokens: int = 128
    """Tokens generated per response."""
    batch_size: int = 8
    do_sample: bool = False
    """Greedy when False; sampled with `temperature`, `top_p` and `seed` when True."""
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def cache_settings(self) -> dict[str, Any]:
        """Settings that change the generated text (batch size excluded)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "batch_size"}


@dataclass
class ScoringSettings:
    """How per-sample values are summarised (the scorers themselves are under `scorers`)."""

    bootstrap_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0


@dataclass
class SourceSpec:
    loader: str
    """A registered source (eval/registry.py SOURCES: mt_bench, vicuna_bench, hh_rlhf, gsm8k, math, ..., and
    `file` for any JSON / JSONL / CSV / Parquet file, mapped by its options: eval/sources/file.py)."""
    file: str
    """Path relative to the data root."""
    options: dict[str, Any] = field(default_factory=dict)
    """Loader keyword options, e.g. categories, split, limit."""


@dataclass
class PromptSpec:
    template: str = "{prompt}"
    """Applied to the last user message; `{prompt}` is replaced by the source text."""
    system: str | None = None


@dataclass
class PromptSet:
    name: str
    source: SourceSpec
    judge: str
    metric: str
    prompt: PromptSpec = field(default_factory=PromptSpec)
    limit: int | None = None
    """Keep at most this many prompts (first ones, in file order)."""
    exclude: list[str] = field(default_factory=list)
    """Item ids of the source (e.g. `math:12`) left out, before `limit`."""
    unreadable: str = "error"
    """A row whose reference the judge cannot read: `error` stops before any generation, naming set, file and
    row; `skip` leaves it out, counted and named in the results (`skipped`), the report and the output."""


@dataclass
class Subpreference:
    name: str
    category: str
    paper_named: bool
    """True for helpfulness, humanity and math (named by the PLOT paper); False = this project's choice."""
    sets: list[PromptSet]
    description: str = ""


@dataclass
class LmEvalSettings:
    tasks: list[str] = field(default_factory=list)
    """Local task names from eval/lm_harness/tasks (plot_gsm8k, plot_truthfulqa_mc1)."""
    limit: int | None = None
    on_baseline: bool = True
    batch_size: int = 4
    max_gen_toks: int = 256


@dataclass
class Suite:
    name: str
    version: int
    subpreferences: list[Subpreference]
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    judges: dict[str, Any] = field(default_factory=dict)
    """Judge name -> its validated settings (the judge's own settings class)."""
    scorers: dict[str, Any] = field(default_factory=dict)
    """Scorer name -> its validated settings; the scorers listed are the ones run (fluency, coherence)."""
    lm_eval: LmEvalSettings = field(default_factory=LmEvalSettings)
    data_root: str | None = None
    """Default data root; a relative path is resolved against the suite file's folder."""
    data_root_env: str | None = None
    """Environment variable that, when set, overrides `data_root` (e.g. PLOT_DATA_ROOT)."""
    schema_version: int = SUITE_SCHEMA_VERSION
    path: str | None = None
    """The YAML file this suite was read from (set by load_suite)."""

    def resolve_data_root(self, override: str | os.PathLike | None = None) -> Path:
        """Data root: explicit override > $data_root_env > data_root (relative to the suite file)."""
        if override is not None:
            return Path(override).expanduser().resolve()
        if self.data_root_env and os.environ.get(self.data_root_env):
            return Path(os.environ[self.data_root_env]).expanduser().resolve()
        if self.data_root is None:
            raise SuiteError(f"{self.path or self.name}: no data_root given (pass --data-root)")
        root = Path(self.data_root).expanduser()
        if not root.is_absolute() and self.path:
            root = Path(self.path).parent / root
        return root.resolve()


def _build(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass `cls` from mapping `raw`, rejecting unknown or missing keys (`path` is not read)."""
    return build_settings(cls, raw, where, error=SuiteError, hidden=("path",))


def _check(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise SuiteError(f"{where}: {message}")


def _check_registered(registry, name: str, where: str, what: str = "") -> None:
    message = f"unknown {what or registry.what} {name!r}; registered: {registry.names()}"
    _check(name in registry, where, message)


def _parse_set(raw: Any, where: str) -> PromptSet:
    prompt_set = _build(PromptSet, raw, where)
    prompt_set.source = _build(SourceSpec, prompt_set.source, f"{where}.source")
    prompt_set.prompt = _build(PromptSpec, prompt_set.prompt or {}, f"{where}.prompt")
    _check(
        isinstance(prompt_set.name, str) and prompt_set.name, f"{where}.name", "must be a non-empty string"
    )
    _check_registered(SOURCES, prompt_set.source.loader, f"{where}.source.loader", "loader")
    _check_source_options(prompt_set.source, f"{where}.source.options")
    _check_registered(METRICS, prompt_set.metric, f"{where}.metric")
    _check_registered(JUDGES, prompt_set.judge, f"{where}.judge")
    feeds = JUDGES.get(prompt_set.judge).metrics
    able = [name for name in JUDGES.names() if prompt_set.metric in JUDGES.get(name).metrics]
    _check(
        prompt_set.metric in feeds,
        f"{where}.judge",
        f"judge {prompt_set.judge!r} cannot produce metric {prompt_set.metric!r}; use one of {able}",
    )
    _check("{prompt}" in prompt_set.prompt.template, f"{where}.prompt.template", "must contain '{prompt}'")
    _check(
        prompt_set.limit is None or (isinstance(prompt_set.limit, int) and prompt_set.limit > 0),
        f"{where}.limit",
        "must be a positive integer",
    )
    exclude = prompt_set.exclude
    _check(
        isinstance(exclude, list) and all(isinstance(i, str) for i in exclude),
        f"{where}.exclude",
        "must be a list of item ids",
    )
    _check(prompt_set.unreadable in ("error", "skip"), f"{where}.unreadable", "must be 'error' or 'skip'")
    return prompt_set


def _check_source_options(source: SourceSpec, where: str) -> None:
    """Options must be keyword parameters of the source's loader; unknown ones are named with the valid."""
    import inspect

    _check(isinstance(source.options, dict), where, "must be a mapping")
    parameters = inspect.signature(SOURCES.get(source.loader).component).parameters
    valid = sorted(name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)
    unknown = sorted(set(source.options) - set(valid))
    _check(not unknown, where, f"unknown option(s) {unknown} for source {source.loader!r}; valid: {valid}")


def parse_components(registry, raw: Any, where: str) -> dict[str, Any]:
    raw = raw or {}
    _check(isinstance(raw, dict), where, f"must map {registry.what} name -> settings")
    parsed = {}
    for name, options in raw.items():
        key = f"{where}.{name}"
        _check(name in registry, key, f"unknown {registry.what}; registered: {registry.names()}")
        parsed[name] = build_settings(registry.get(name).settings, options, key, error=SuiteError)
    return parsed


def _parse_subpreference(raw: Any, where: str) -> Subpreference:
    sub = _build(Subpreference, raw, where)
    _check(sub.category in CATEGORIES, f"{where}.category", f"must be one of {list(CATEGORIES)}")
    _check(isinstance(sub.paper_named, bool), f"{where}.paper_named", "must be true or false")
    _check(isinstance(sub.sets, list) and sub.sets, f"{where}.sets", "must be a non-empty list")
    sub.sets = [_parse_set(item, f"{where}.sets[{i}]") for i, item in enumerate(sub.sets)]
    names = [s.name for s in sub.sets]
    _check(len(set(names)) == len(names), f"{where}.sets", f"duplicate set names {names}")
    return sub


def parse_suite(raw: Any, where: str = "<suite>") -> Suite:
    """Validate a suite mapping (as read from YAML) and build the dataclasses."""
    suite = _build(Suite, raw, where)
    _check(isinstance(suite.name, str) and suite.name, f"{where}: name", "must be a non-empty string")
    _check(isinstance(suite.version, int), f"{where}: version", "must be an integer")
    _check(
        suite.schema_version == SUITE_SCHEMA_VERSION,
        f"{where}: schema_version",
        f"unsupported {suite.schema_version}; this code reads {SUITE_SCHEMA_VERSION}",
    )
    suite.generation = _build(GenerationSettings, suite.generation or {}, f"{where}: generation")
    _check(suite.generation.max_new_tokens > 0, f"{where}: generation.max_new_tokens", "must be > 0")
    suite.scoring = _build(ScoringSettings, suite.scoring or {}, f"{where}: scoring")
    _check(0 < suite.scoring.confidence < 1, f"{where}: scoring.confidence", "must be in (0, 1)")
    suite.judges = parse_components(JUDGES, suite.judges, f"{where}: judges")
    suite.scorers = parse_components(SCORERS, suite.scorers, f"{where}: scorers")
    suite.lm_eval = _build(LmEvalSettings, suite.lm_eval or {}, f"{where}: lm_eval")
    _check(
        isinstance(suite.subpreferences, list) and suite.subpreferences, f"{where}: subpreferences", "empty"
    )
    suite.subpreferences = [
        _parse_subpreference(item, f"{where}: subpreferences[{i}]")
        for i, item in enumerate(suite.subpreferences)
    ]
    names = [s.name for s in suite.subpreferences]
    _check(len(set(names)) == len(names), f"{where}: subpreferences", f"duplicate names {names}")
    return suite


def load_suite(path: str | os.PathLike) -> Suite:
    """Read and validate a suite YAML file; raises SuiteError (or FileNotFoundError) naming the file."""
    path = Path(path)
    missing = f"suite config not found: {path}"
    raw = read_parsed(path, yaml.safe_load, yaml.YAMLError, "YAML", missing, error=SuiteError)
    suite = parse_suite(raw, str(path))
    suite.path = str(path.resolve())
    return suite
