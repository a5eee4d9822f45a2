"""The command lines: ``experiment --list-cells`` and ``diagnose`` on two model folders, checked against a
direct softmax of each model's next-token logits."""

from __future__ import annotations

import re

import pytest
import torch

from experiments.__main__ import main


def test_list_cells_prints_every_cell_with_its_status(tiny_experiment, capsys):
    main(["grid", "--config", str(tiny_experiment()), "--list-cells"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[:3] for line in lines] == [["0", "todo", "logic"], ["1", "todo", "logic"]]
    assert "dpo_plot_dirac seed=0" in lines[1]


def test_cell_index_out_of_range_is_a_clear_error(tiny_experiment):
    with pytest.raises(IndexError, match=r"cell index \[5\] out of range: the grid has 2 cells"):
        main(["grid", "--config", str(tiny_experiment()), "--cell", "5"])


@torch.no_grad()
def test_diagnose_two_folders(tmp_path, tiny_model_dir, tiny_tokenizer, capsys):
    from plot_lightning.data.pair_batches import encode_pairs, load_pair_records
    from plot_lightning.models.tiny import tiny_model

    after = tmp_path / "after"
    tiny_model(len(tiny_tokenizer), seed=5).save_pretrained(after)
    tiny_tokenizer.save_pretrained(after)
    out = tmp_path / "diag"
    main(["diagnose", "--before", str(tiny_model_dir), "--after", str(after), "--label", "trained",
          "--pairs", "sample:demo_val", "--prompts", "2", "--top-k", "3", "--out", str(out)])  # fmt: skip
    table = (out / "diagnostic.md").read_text(encoding="utf-8")
    assert (out / "diagnostic.png").stat().st_size > 0 and table.count("### prompt") == 2
    # p(target) of the first prompt, from the table, against a direct forward of each model.
    _, chosen, _ = encode_pairs(load_pair_records(["sample:demo_val"], 1), tiny_tokenizer, 512, None)[0]
    first = chosen["labels"].index(next(label for label in chosen["labels"] if label != -100))
    prefix, target = chosen["input_ids"][:first], chosen["input_ids"][first]
    for label, seed in (("before", 0), ("trained", 5)):
        model = tiny_model(len(tiny_tokenizer), seed=seed)
        expected = torch.softmax(model(input_ids=torch.tensor([prefix])).logits[0, -1], -1)[target]
        row = re.search(rf"^\| {label} \| ([0-9.]+) \|", table, re.MULTILINE)
        assert float(row.group(1)) == pytest.approx(float(expected), abs=1e-4)


@pytest.mark.parametrize("command", ["grid", "diagnose"])
def test_commands_have_help(command: str, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and f"python -m experiments {command}" in capsys.readouterr().out


def test_collect_with_no_finished_cell_writes_empty_results(tiny_experiment, capsys):
    path = tiny_experiment()
    main(["grid", "--config", str(path), "--collect"])
    assert "collected 0/2 finished cells" in capsys.readouterr().out
    table = (path.parent / "experiment" / "results" / "table.md").read_text(encoding="utf-8")
    assert table.startswith("<!-- 0/2 cells finished -->") and "| metric |" not in table


@pytest.mark.parametrize(
    ("overrides", "key", "value"),
    [
        ({"defaults": {"alpha": -0.1}}, "defaults.alpha", "-0.1"),
        ({"defaults": {"alpha": float("nan")}}, "defaults.alpha", "nan"),
        ({"sweeps": {"alpha": [0.1, float("inf")]}}, "sweeps.alpha", "inf"),
        ({"sweeps": {"lr": [0.0]}}, "sweeps.lr", "0.0"),
    ],
)
def test_a_bad_alpha_or_lr_is_one_message_and_exit_status_2(tiny_experiment, capsys, overrides, key, value):
    """alpha (the PLOT weight) must be finite and >= 0, lr and beta finite and > 0: refused when the file is
    read (not by every cell's training), in one line naming the file and the key."""
    path = tiny_experiment(**overrides)
    with pytest.raises(SystemExit) as exit_info:
        main(["grid", "--config", str(path), "--list-cells"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"python -m experiments grid: error: {path}: key '{key}':")
    assert f"got {value}" in err
