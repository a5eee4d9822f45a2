"""``benchmarks/gpu_check.py``'s CPU path (tiny models), run as on a lent GPU machine: with the packages that
machine lacks hidden (``bare_site``), its tables must hold every expected row with computed comparisons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BARE_SITE = Path(__file__).with_name("bare_site")
ABSENT_ON_GPU_MACHINE = "trl,pot,ot,mlflow,jsonargparse,lm_eval,lm-eval"  # trl: only vs_trl's children


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out, work = tmp_path_factory.mktemp("gpu_check"), tmp_path_factory.mktemp("models")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTER_", "LT_", "PL_"))}
    env.update(PLOT_ABSENT_PACKAGES=ABSENT_ON_GPU_MACHINE, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BARE_SITE), env.get("PYTHONPATH")]))
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--tiny"]
    command += ["--out", str(out), "--work-dir", str(work), "--sections", "heads,packing,embedding,fsdp"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text()


def test_heads_compare_bf16_with_fp32_for_both_heads_on_both_architectures(report):
    rows = report[0]["sections"]["heads"]["rows"]
    seen = {(row["model"], row["comparison"]) for row in rows}
    for model in ("random-tiny", "random-gemma3-tiny"):
        for comparison in (
            "unfused bf16 vs unfused fp32",
            "fused bf16 vs fused fp32",
            "fused fp32 vs unfused fp32",
        ):
            assert (model, comparison) in seen
    for row in rows:
        assert row["pass"] is True, row
        if "bf16" in row["comparison"]:
            # computed, not copied: bf16 rounding moves the loss and the gradient, but only a little
            assert 0 < row["loss_rel_diff"] <= 2e-2 and 0 < row["grad_rel_err"] < 0.2
            assert 0.99 <= row["grad_cosine"] < 1.0
        else:  # the two heads compute the same function in fp32
            assert row["loss_rel_diff"] <= 1e-4 and row["grad_rel_err"] <= 1e-4
        assert row["loss"] == pytest.approx(row["reference_loss"], rel=2e-2)


def test_packing_compares_shared_steps_with_the_unpacked_fp32_step(report):
    rows = report[0]["sections"]["packing"]["rows"]
    assert len(rows) == 8  # 2 models x 2 heads x (fp32, bf16)
    for row in rows:
        assert row["pass"] is True, row
        if "float32 vs" in row["comparison"].split("shared ")[1]:  # the same function: float rounding only
            assert row["loss_rel_diff"] <= 1e-5 and row["grad_rel_err"] <= 1e-4
        else:  # bf16 moves them, a little
            assert 0 < row["loss_rel_diff"] <= 2e-2 and 0.99 <= row["grad_cosine"] < 1.0


def test_cost_embedding_is_shared_in_fp32_and_copied_in_bf16(report):
    rows = {(r["model"], r["model_dtype"]): r for r in report[0]["sections"]["embedding"]["rows"]}
    assert (
        rows[("random-tiny", "float32")]["copies"] == 0 and rows[("random-tiny", "float32")]["copy_mb"] == 0
    )
    # bf16 weights cannot serve the fp32 cost: PLOT holds a normalised fp32 copy, V x d x 4 B = 512 x 64 x 4 B
    assert rows[("random-tiny", "bfloat16")]["copies"] == 1
    assert rows[("random-tiny", "bfloat16")]["copy_mb"] == pytest.approx(512 * 64 * 4 / 2**20)
    assert rows[("random-gemma3-tiny", "float32")]["copies"] == 0


def test_one_fsdp_step_matches_the_plain_step(report):
    rows = {row["run"]: row for row in report[0]["sections"]["fsdp"]["rows"]}
    assert set(rows) == {"single device", "FSDP2, 1 rank"}
    assert rows["FSDP2, 1 rank"]["loss"] == pytest.approx(rows["single device"]["loss"], rel=1e-5)
    assert rows["single device"]["loss"] > 0.69  # ln 2 from DPO at step 0 plus a positive PLOT term


def test_markdown_holds_every_section_and_the_versions(report):
    markdown = report[1]
    for name in ("## heads", "## packing", "## embedding", "## fsdp", "- torch:", "- transformers:"):
        assert name in markdown
    assert report[0]["header"]["trl"] == "not installed"  # the hiding worked: trl was not needed here


def test_vs_trl_commands_parse_with_vs_trls_own_parser(tmp_path):
    import gpu_check
    import vs_trl

    for tiny in (True, False):
        options = gpu_check.parse_args(
            ["--out", str(tmp_path), "--device", "cpu"] + (["--tiny"] if tiny else [])
        )
        for command in gpu_check.vs_trl_commands(options):
            parsed = vs_trl.build_parser().parse_args(command[2:])
            assert parsed.command == "speed" and parsed.checkpointing == "on"
            assert parsed.markdown.endswith(f"vs_trl_{parsed.model}.md")
        models = {c[c.index("--model") + 1] for c in gpu_check.vs_trl_commands(options)}
        assert models == ({"random-tiny"} if tiny else {"random-smollm2", "random-gemma3-270m"})
