"""Progress lines when stdout is not a terminal: after the first step, every N steps and whenever the last
line is ``every_seconds`` old, with step, loss, tokens/s and ETA."""

from __future__ import annotations

import io
import json
import re

import torch

from plot_lightning.cli.progress_lines import ProgressLines
from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.module import PLOTModule

LINE = re.compile(
    r"^step (\d+)/6 \| loss (\d+\.\d{4}) \| (\d+) tokens/s \| elapsed \d+:\d\d:\d\d \| ETA \d+:\d\d:\d\d$"
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_line_after_the_first_step_then_every_two_steps_to_a_file_and_none_to_a_terminal(
    tmp_path, quiet_trainer, loss_recorder
) -> None:
    """Steps 1 (the first), 2, 4, 6 (every 2); the time limit (an hour) never fires; a terminal gets none.
    Every 4: steps 1, 4 and 6 (the last). With ``every_seconds=0`` a line is always due: after every step."""
    rows = [{"prompt": f"Q {i}?", "chosen": "Bake it. " * (1 + i), "rejected": "No."} for i in range(4)]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    to_file, to_terminal, recorder = io.StringIO(), Terminal(), loss_recorder()
    every_call, every_four = io.StringIO(), io.StringIO()
    callbacks = [
        ProgressLines(4, stream=every_four, every_seconds=3600),
        ProgressLines(2, stream=to_file, every_seconds=3600),
        ProgressLines(2, stream=to_terminal),
        ProgressLines(100, stream=every_call, every_seconds=0),
        recorder,
    ]
    module = PLOTModule(
        model="tiny", losses=["dpo"], weights=[1.0], optimizer=lambda p: torch.optim.SGD(p, lr=0.1)
    )
    datamodule = PreferenceDataModule(
        str(tmp_path / "p.jsonl"), tokenizer="tiny", batch_size=2, shuffle=False
    )
    quiet_trainer(max_steps=6, callbacks=callbacks).fit(module, datamodule=datamodule)
    lines = to_file.getvalue().splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == [1, 2, 4, 6]
    assert [float(m.group(2)) for m in matches] == [round(recorder.losses[i], 4) for i in (0, 1, 3, 5)]
    timed = [LINE.match(line) for line in every_call.getvalue().splitlines()]
    assert [int(m.group(1)) for m in timed] == [1, 2, 3, 4, 5, 6]
    fours = [LINE.match(line) for line in every_four.getvalue().splitlines()]
    assert [int(m.group(1)) for m in fours] == [1, 4, 6]  # the first, every 4th, the last
    assert all(int(m.group(3)) > 0 for m in matches)
    assert to_terminal.getvalue() == ""
