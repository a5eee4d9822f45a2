"""``PreferenceDataModule``: preference pairs (or SFT data) from files into padded, prompt-masked batches."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import datasets
import lightning.pytorch as pl
import torch
from torch.utils.data import DistributedSampler
from transformers import PreTrainedTokenizerBase

from plot_lightning.data.collate import PreferenceCollator
from plot_lightning.data.errors import DataFormatError, DataValidationError, RowProblem
from plot_lightning.data.formats import EXPECTED_COLUMNS
from plot_lightning.data.length_grouped import length_grouped_sampler
from plot_lightning.data.records import as_file_list, load_records, split_validation
from plot_lightning.data.resumable_loader import ResumableLoader, ShuffleSampler
from plot_lightning.data.skipped_rows import write_skipped_rows
from plot_lightning.data.tokenize import ChatEncoder
from plot_lightning.data.validation import BadRowLog

log = logging.getLogger(__name__)
_KEEP = ("chosen_input_ids", "chosen_labels", "rejected_input_ids", "rejected_labels")


def distributed_sampler(
    dataset: datasets.Dataset, world_size: int, rank: int, shuffle: bool, seed: int
) -> DistributedSampler:
    """Rank ``rank``'s share of the training order: positions ``rank, rank + W, ...`` of one permutation
    (seeded with ``seed + epoch``; file order when ``shuffle`` is False). Not left to Lightning, whose own
    sampler would always shuffle with seed 0, silently ignoring ``shuffle`` and ``seed`` under DDP/FSDP.
    """
    return DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)


class PreferenceDataModule(pl.LightningDataModule):
    """Preference pairs (or SFT-only data) read from files, validated, tokenised with the chat template.

    Every row is validated before training: a missing or empty field, a non-string, undecodable text or a row
    whose prompt leaves no room for one response token raises ``DataValidationError`` naming the file, the
    row and the field (or, with ``on_bad_row="skip"``, is skipped and counted in a one-line summary).
    Batches: ``input_ids``, ``attention_mask``, ``labels`` (N,T) right padded, labels -100 on prompt and
    padding; for pairs N = 2B with chosen rows first; ``example_index`` and ``subpreference_id`` (B,).

    Args:
        train_files: training data: a path or list of paths (.json, .jsonl, .jsonl.gz, .parquet, .csv), a
            committed sample as ``sample:<name>`` (e.g. ``sample:demo``), or a hub dataset ``org/name[:split]``
            when online. Columns: prompt/chosen/rejected (strings or chat messages), chosen/rejected only
            (implicit prompt, e.g. hh-rlhf transcripts), prompt/chosen or messages (SFT), optional subpreference.
        val_files: validation data in the same forms; when None, ``val_fraction`` of the training rows.
        tokenizer: tokenizer spec (``"tiny"``, ``"smollm2-135m-instruct"``, a Hugging Face folder or hub name),
            normally linked from ``model.model``; a tokenizer object is accepted too.
        max_length: the most tokens of prompt + response per sequence.
        max_prompt_length: the most prompt tokens (prompts are left-truncated first); None keeps whole prompts,
            so a row whose prompt fills ``max_length`` is an error.
        batch_size: preference pairs (or SFT examples) per batch and process.
        num_workers: DataLoader worker processes.
        format: ``"auto"``, ``"standard"``, ``"conversational"``, ``"implicit"`` or ``"sft"``.
        val_fraction: share of the training rows held out for validation when ``val_files`` is None (0: none).
        on_bad_row: ``"error"`` stops with one error listing every bad row (the first 20, with the count);
            ``"skip"`` drops bad rows, logs how many and writes them (split, file, row, field, reason) to
            ``skipped_rows.jsonl`` in the run's log folder.
        seed: seed of the validation split and of the training shuffle (its own generator; saved in checkpoints
            with the loader's position for an exact resume).
        shuffle: shuffle the training rows each epoch.
        group_by_length: length-grouped training batches (``data.length_grouped.LengthGroupedSampler``:
            buckets sorted by length, batches shuffled; seeded by ``seed`` and the epoch; resumable), so
            batches carry less padding. The padding share is logged per step as ``perf/padding_fraction``.
    """

    def __init__(
        self,
        train_files: str | list[str],
        val_files: str | list[str] | None = None,
        tokenizer: str | PreTrainedTokenizerBase = "tiny",
        max_length: int = 512,
        max_prompt_length: int | None = 256,
        batch_size: int = 4,
        num_workers: int = 0,
        format: str = "auto",
        val_fraction: float = 0.0,
        on_bad_row: str = "error",
        seed: int = 0,
        shuffle: bool = True,
        group_by_length: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=[] if isinstance(tokenizer, str) else ["tokenizer"])
        self.train_files = as_file_list(train_files)
        if not self.train_files:
            raise ValueError("train_files is empty: give at least one data file")
        self.val_files = as_file_list(val_files)
        self.tokenizer_spec = tokenizer
        self.encoder_args = {"max_length": max_length, "max_prompt_length": max_prompt_length}
        ChatEncoder.check_lengths(max_length, max_prompt_length)
        self.batch_size, self.num_workers, self.shuffle = batch_size, num_workers, shuffle
        self.group_by_length = group_by_length
        self.format, self.val_fraction, self.on_bad_row, self.seed = format, val_fraction, on_bad_row, seed
        BadRowLog(on_bad_row)  # validates the choice early
        self._records: dict[str, list[dict[str, Any]]] | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self.has_rejected = True
        self.columns: dict[str, list[str]] = {}  # per file, as found
        self.identical_pairs = 0  # pairs with chosen == rejected (warned)
        self.skipped_rows: list[tuple[str, DataValidationError]] = []
        self.train_dataset: datasets.Dataset | None = None
        self.val_dataset: datasets.Dataset | None = None

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The tokenizer object (loaded from the spec on first use)."""
        if self._tokenizer is None:
            if isinstance(self.tokenizer_spec, str):
                from plot_lightning.models.loading import load_tokenizer

                self._tokenizer = load_tokenizer(self.tokenizer_spec)
            else:
                self._tokenizer = self.tokenizer_spec
        return self._tokenizer

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        """Validated, normalised records per split (read once)."""
        if self._records is None:
            train_log = BadRowLog(self.on_bad_row)
            train, has_rejected = load_records(self.train_files, self.format, train_log, self.columns)
            train_log.log_summary("train data")
            logs = [("train", train_log)]
            if self.val_files:
                val_log = BadRowLog(self.on_bad_row)
                val, val_has_rejected = load_records(self.val_files, self.format, val_log, self.columns)
                val_log.log_summary("validation data")
                logs.append(("validation", val_log))
                if val_has_rejected != has_rejected:
                    raise DataFormatError(
                        "train_files and val_files must both be preference pairs or both SFT-only"
                    )
            else:
                train, val = split_validation(train, self.val_fraction, self.seed)
            if not train:
                raise DataFormatError(f"no usable training rows in {self.train_files}")
            self.skipped_rows = [(split, row) for split, log in logs for row in log.rows]
            self.identical_pairs = sum(len(log.identical_pairs) for _, log in logs)
            self.has_rejected = has_rejected
            self._records = {"train": train, "val": val}
        return self._records

    @property
    def subpreferences(self) -> list[str]:
        """Sorted subpreference names over train and validation rows (``["all"]`` without the column)."""
        records = self._load()
        return sorted({record["subpreference"] for split in records.values() for record in split})

    def _tokenise(self, records: list[dict[str, Any]], stage: str) -> datasets.Dataset:
        encoder = ChatEncoder(self.tokenizer, **self.encoder_args)
        pairs, on_bad_row = self.has_rejected, self.on_bad_row

        def encode(record: dict[str, Any]) -> dict[str, Any]:
            out = {name: None for name in _KEEP} | {"skip_field": "", "skip_reason": ""}
            try:
                for side in ("chosen", "rejected") if pairs else ("chosen",):
                    encoded = encoder.encode(record["prompt"], record[side], side)
                    out[f"{side}_input_ids"], out[f"{side}_labels"] = encoded["input_ids"], encoded["labels"]
            except RowProblem as problem:
                out["skip_field"], out["skip_reason"] = problem.field, problem.reason
            return out

        # In-memory dataset: nothing is written to disk; a fresh fingerprint skips hashing the closure.
        dataset = datasets.Dataset.from_list(records).map(
            encode, desc=f"tokenising {stage} data", new_fingerprint=uuid.uuid4().hex
        )
        skipped = BadRowLog(on_bad_row)
        skipped.seen = len(dataset)
        for record, field, reason in zip(records, dataset["skip_field"], dataset["skip_reason"], strict=True):
            if reason:
                skipped.bad(record["file"], record["row"], RowProblem(field, reason))
        skipped.raise_if_any()
        self.skipped_rows += [(stage, row) for row in skipped.rows]
        if skipped.total_skipped:
            skipped.log_summary(f"{stage} data (tokenisation)")
            dataset = dataset.filter(lambda reason: not reason, input_columns="skip_reason")
        if len(dataset) == 0 and records:
            raise DataFormatError(f"{stage} data: every row was skipped (see the warning above)")
        names = {name: index for index, name in enumerate(self.subpreferences)}
        dataset = dataset.add_column("example_index", list(range(len(dataset))))
        dataset = dataset.add_column("subpreference_id", [names[s] for s in dataset["subpreference"]])
        keep = [*_KEEP[: 4 if pairs else 2], "example_index", "subpreference_id"]
        return dataset.select_columns(keep)

    def setup(self, stage: str | None = None) -> None:
        """Validate and tokenise the data once (every process does this under DDP; nothing is cached on disk)."""
        if self.train_dataset is not None:
            return
        records = self._load()
        self.train_dataset = self._tokenise(records["train"], "train")
        self.val_dataset = self._tokenise(records["val"], "validation") if records["val"] else None
        trainer = self.trainer
        if self.skipped_rows and trainer is not None:
            folder = (
                trainer.log_dir or trainer.default_root_dir
            )  # every process calls log_dir (it broadcasts)
            if trainer.is_global_zero:
                write_skipped_rows(folder, self.skipped_rows)

    def require_pairs(self, losses: list[str]) -> None:
        """DataFormatError naming the files, their columns and the formats expected when the data is SFT-only
        but ``losses`` need a rejected response."""
        records = self._load()
        if not self.has_rejected and records["train"]:
            found = "; ".join(f"{file}: columns {columns}" for file, columns in self.columns.items())
            why = (
                "format 'sft' was asked for" if self.format == "sft" else "the data has no 'rejected' column"
            )
            raise DataFormatError(
                f"losses {list(losses)} need a rejected response, but {why} ({found}); expected {EXPECTED_COLUMNS}"
            )

    @property
    def collator(self) -> PreferenceCollator:
        """The batch collator (pads with the tokenizer's pad token, or EOS when it has none)."""
        pad = self.tokenizer.pad_token_id
        return PreferenceCollator(self.tokenizer.eos_token_id if pad is None else pad)

    def _loader(
        self, dataset: datasets.Dataset, shuffle: bool, sampler=None, epoch_ended=None
    ) -> ResumableLoader:
        # Lightning saves the loader's position and the sampler's state in every checkpoint: a resume from
        # mid-epoch continues with the very next batch. The sampler's own generator keeps the order off the
        # global RNG; the loader's only seeds workers (shared with the sampler, a resume would skew it by a draw).
        if sampler is None and shuffle:
            sampler = ShuffleSampler(dataset, generator=torch.Generator().manual_seed(self.seed))
        return ResumableLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            generator=torch.Generator().manual_seed(self.seed),
            num_workers=self.num_workers,
            collate_fn=self.collator,
            persistent_workers=self.num_workers > 0,
            epoch_ended=epoch_ended,
        )

    def _training_epoch_ended(self) -> bool | None:
        """Whether the trainer's training epoch has ended (its last batch, ``limit_train_batches`` included)."""
        if self.trainer is None:
            return None
        return bool(self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch)

    def train_dataloader(self) -> ResumableLoader:
        """Training batches: shuffled by ``seed`` (or in file order with ``shuffle=False``), length-grouped on
        request; with several processes, each rank's share of the same order (:func:`distributed_sampler`)."""
        self.setup("fit")
        world = self.trainer.world_size if self.trainer is not None else 1
        sampler = None
        if self.group_by_length:
            sampler = length_grouped_sampler(self)
        elif world > 1:
            sampler = distributed_sampler(
                self.train_dataset, world, self.trainer.global_rank, self.shuffle, self.seed
            )
        return self._loader(self.train_dataset, self.shuffle, sampler, self._training_epoch_ended)

    def val_dataloader(self) -> ResumableLoader | list:
        """Validation batches in file order (an empty list when there is no validation data)."""
        self.setup("validate")
        return [] if self.val_dataset is None else self._loader(self.val_dataset, False)
