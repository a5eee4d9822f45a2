"""A failing tracking server never stops training: a real HTTP server answering 503, a real ``mlflow server``
killed mid-run (then ``tracking sync`` delivers what it missed), two runs starting at once on a new folder."""

from __future__ import annotations

import csv
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from plot_lightning.tracking import default_tracking_uri
from plot_lightning.tracking.run_record import RUN_RECORD, read_run_record
from plot_lightning.tracking.sync import sync_run

MAX_STEP_S = 5.0  # "a few seconds": a tiny step takes well under one


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Unavailable(http.server.BaseHTTPRequestHandler):
    """``/health`` answers 200; every API call answers 503 (an overloaded or broken server behind a proxy)."""

    calls = 0

    def _answer(self) -> None:
        type(self).calls += 1
        healthy = self.path.rstrip("/").endswith("/health")
        self.send_response(200 if healthy else 503)
        self.end_headers()
        self.wfile.write(b"OK" if healthy else b"Service Unavailable")

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


def _csv_steps(version: Path) -> list[int]:
    with open(version / "metrics.csv", newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle) if row.get("train/loss_step")]


@pytest.mark.slow
def test_a_server_answering_503_neither_blocks_start_up_nor_any_step(tmp_path, tiny_fit) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cli, timer = tiny_fit(tmp_path / "run", "--tracking.uri", uri, "--tracking.flush_timeout_s", "2")
    finally:
        server.shutdown()
    assert cli.trainer.global_step == 4 and max(timer.durations) < MAX_STEP_S, timer.durations
    assert _Unavailable.calls > 1  # MLflow really was asked (and refused)
    version = Path(cli.trainer.loggers[0].log_dir)
    assert _csv_steps(version) == [0, 1, 2, 3]
    messages = " ".join(str(w.message) for w in caught)
    assert "503" in messages and f"plot-lightning tracking sync {version}" in messages


@pytest.mark.slow
@pytest.mark.multiprocess
def test_mlflow_server_killed_mid_run_then_sync_delivers_the_rest(tmp_path, tiny_fit) -> None:
    store = tmp_path / "server" / "mlflow.db"
    store.parent.mkdir()
    port = _free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{store}", "--default-artifact-root", str(tmp_path / "art"),
        "--workers", "1",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(uri, server)

        def kill_server() -> None:
            # "Mid-run": the run exists on the server (its creation runs in the background thread and,
            # on a loaded machine, can take longer than two tiny steps), then the server dies.
            deadline = time.monotonic() + 120
            while not _run_created(tmp_path / "run") and time.monotonic() < deadline:
                time.sleep(0.1)
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)

        cli, timer = tiny_fit(
            tmp_path / "run",
            "--tracking.uri",
            uri,
            "--tracking.flush_timeout_s",
            "2",
            at_step={2: kill_server},
        )
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    # the steps after the kill: the ones a dead server could block. Steps 0-1 run beside the fresh server's
    # start-up and run creation and are not the claim (first step 0.5-4.5 s on the idle machine, 5.05 s
    # in one CI run; later steps 0.02 s)
    assert cli.trainer.global_step == 4 and max(timer.durations[2:]) < MAX_STEP_S, timer.durations
    version = Path(cli.trainer.loggers[0].log_dir)
    record = read_run_record(version)
    assert record.uri == uri and record.run_id
    report = sync_run(version, uri=f"sqlite:///{store}")  # the server's own store, server gone
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    history = [m.step for m in client.get_metric_history(record.run_id, "train/loss_step")]
    assert sorted(history) == [0, 1, 2, 3] and report.added >= 2
    # The run ended normally (its end state is in its record): sync sets it, not KILLED.
    assert record.status == "FINISHED" == client.get_run(record.run_id).info.status == report.status_set
    assert sync_run(version, uri=f"sqlite:///{store}").added == 0  # idempotent


def _run_created(root: Path) -> bool:
    """Whether a version folder's record holds the MLflow run's id (written from the start, id once created)."""
    return any(getattr(read_run_record(path.parent), "run_id", None) for path in root.rglob(RUN_RECORD))


def _wait_healthy(uri: str, server: subprocess.Popen, timeout_s: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, "mlflow server exited"
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server at {uri} not healthy after {timeout_s} s")


# What build_loggers' background thread does first (plot_lightning.tracking.store: no Lightning import).
STARTER = """
import sys
from plot_lightning.tracking.store import experiment_id, open_client
uri = "sqlite:///" + sys.argv[1] + "/mlflow.db"
client = open_client(uri)
run = client.create_run(experiment_id(client, "race", None), run_name=sys.argv[2])
client.log_metric(run.info.run_id, "x", 1.0, step=0)
client.set_terminated(run.info.run_id)
"""


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_runs_starting_at_once_on_a_new_folder_both_log(tmp_path) -> None:
    root = tmp_path / "new-root"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(root), name], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]  # fmt: skip
    outputs = [starter.communicate(timeout=300) for starter in starters]
    assert [starter.returncode for starter in starters] == [0, 0], [err[-3000:] for _, err in outputs]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(default_tracking_uri(root))
    runs = client.search_runs([client.get_experiment_by_name("race").experiment_id])
    assert sorted(run.info.run_name for run in runs) == ["a", "b"]
    assert all(run.data.metrics == {"x": 1.0} for run in runs)
