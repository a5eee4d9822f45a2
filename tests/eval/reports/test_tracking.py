"""MLflow tracking: default store, failure keeps the results files, and a REAL `mlflow server` round trip.

(Named test_eval_tracking.py because tests/plot_lightning/test_tracking.py exists and the test folders
are not packages.)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from plot_eval.reports.tracking import default_tracking_uri, log_comparison, log_evaluation
from plot_eval.runner import _write_and_track


def test_tracking_default_uri_is_sqlite_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_tracking_failure_never_loses_results(synthetic_run):
    results, samples, output_dir = synthetic_run
    (output_dir / "results.json").unlink()
    out = _write_and_track(results, samples, output_dir, True, "bogus-scheme://nowhere", "e", None, False)
    assert "error" in out["tracking"]
    on_disk = json.loads((output_dir / "results.json").read_text())
    assert on_disk["tracking"]["error"] == out["tracking"]["error"]
    assert (output_dir / "report.md").is_file() and (output_dir / "samples.jsonl").is_file()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"mlflow server at {url} not healthy after {timeout_s} s")


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 in its own process group; the group is stopped afterwards."""
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--default-artifact-root", str(tmp_path / "art"), "--workers", "1",
    ]  # fmt: skip
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        log.close()


@pytest.mark.slow
@pytest.mark.multiprocess
def test_tracking_through_real_mlflow_server(mlflow_server, synthetic_run, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    results, samples, output_dir = synthetic_run
    from plot_eval.reports.report import write_report

    write_report(results, output_dir)
    info = log_evaluation(results, samples, output_dir, tracking_uri=mlflow_server, experiment="server-test")
    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(info["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["winrate/helpfulness"] == pytest.approx(0.625)
    assert run.data.metrics["asr/harmlessness/advbench"] == pytest.approx(0.25)
    assert run.data.metrics["lm_eval/plot_gsm8k/exact_match_final_number"] == 0.5
    assert run.data.params["model.name"] == "model-a"
    artifacts = {a.path for a in client.list_artifacts(info["run_id"])}
    assert {"report.md", "results.json", "samples_table.json", "charts"} <= artifacts
    compare = log_comparison({"a": {"winrate/helpfulness": 0.6}}, "| t |", tracking_uri=mlflow_server)
    assert client.get_run(compare["run_id"]).data.metrics["a/winrate/helpfulness"] == 0.6
