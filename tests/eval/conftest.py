"""Fixtures for the eval tests: the data roots for real-text tests, a synthetic but complete results dict, and
a real OpenAI chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

QUICK = Path(__file__).resolve().parents[2] / "configs" / "eval" / "quick.yaml"

_REPO = Path(__file__).resolve().parents[2]
_ROOTS = [Path(os.environ["PLOT_DATA_ROOT"])] if os.environ.get("PLOT_DATA_ROOT") else []
_ROOTS += [_REPO.parent / "shared" / "data", _REPO / "eval" / "samples"]


@pytest.fixture(scope="session")
def data_file():
    """``data_file("gsm8k/test.jsonl")`` -> the first existing copy under the data roots (skips if none)."""

    def find(relative: str) -> Path:
        for root in _ROOTS:
            if (root / relative).is_file():
                return root / relative
        pytest.skip(f"{relative} not found under {[str(r) for r in _ROOTS]}")

    return find


def _outcome(metric: str, good: bool) -> dict:
    from plot_eval.registry import METRICS

    bad = {"accuracy": "incorrect", "asr": "compliance", "over_refusal": "refusal"}[metric]
    return {"label": METRICS.get(metric).component.good_label if good else bad, "score": None}


def make_results(output_dir: Path, *, shift: float = 0.0, label: str = "model-a"):
    """Results + samples for the quick suite with fabricated verdicts: every set has 4 samples with wins
    (1, 1, 0.5, 0) -> win rate 0.625; programmatic sets: model right on 3 of 4, baseline on 2 of 4.
    `shift` is added to the model's perplexity so two runs differ."""
    from plot_eval.aggregation.aggregate import summarize_run
    from plot_eval.reports.results import write_results, write_samples
    from plot_eval.suite import load_suite

    suite = load_suite(QUICK)
    samples = []
    for sub in suite.subpreferences:
        for prompt_set in sub.sets:
            for i, win in enumerate((1.0, 1.0, 0.5, 0.0)):
                programmatic = prompt_set.metric != "winrate"
                samples.append(
                    {
                        "subpreference": sub.name,
                        "set": prompt_set.name,
                        "metric": prompt_set.metric,
                        "judge": prompt_set.judge,
                        "prompt_id": f"{prompt_set.name}:{i}",
                        "prompt": f"question {i}?",
                        "model_response": f"answer {i}",
                        "baseline_response": f"other {i}",
                        "win": win,
                        "model_ok": (i < 3) if programmatic else None,
                        "baseline_ok": (i in (0, 3)) if programmatic else None,
                        "model_outcome": _outcome(prompt_set.metric, i < 3) if programmatic else None,
                        "baseline_outcome": _outcome(prompt_set.metric, i in (0, 3))
                        if programmatic
                        else None,
                        "model_scores": {
                            "fluency": {"perplexity": 10.0 + i + shift, "distinct_2": 0.9},
                            "coherence": {"prompt_similarity": 0.5},
                        },
                        "baseline_scores": {
                            "fluency": {"perplexity": 12.0 + i, "distinct_2": 0.8},
                            "coherence": {"prompt_similarity": 0.4},
                        },
                    }
                )
    results = summarize_run(
        suite,
        samples,
        {
            "limit": 2,
            "model": {"plot_gsm8k": {"exact_match_final_number": 0.5}},
            "baseline": {"plot_gsm8k": {"exact_match_final_number": 0.0}},
        },
    )
    results.update(
        models={
            "model": {"name": label, "fingerprint": "a" * 64},
            "baseline": {"name": "base", "fingerprint": "b" * 64},
        },
        seeds={"generation": 0, "bootstrap": 0},
        versions={"python": "3"},
        data_root="samples",
        limit=None,
        finished_at="2026-01-01T00:00:00+00:00",
        output_dir=str(output_dir),
    )
    write_samples(output_dir, samples)
    write_results(output_dir, results)
    return results, samples


@pytest.fixture
def synthetic_run(tmp_path):
    """(results, samples, output_dir) with results.json and samples.jsonl written."""
    output_dir = tmp_path / "model-a"
    results, samples = make_results(output_dir)
    return results, samples, output_dir


@pytest.fixture
def results_factory():
    """`make_results(output_dir, shift=..., label=...)` for tests that need several finished runs."""
    return make_results


def _echo(body: dict) -> str:
    return "echo: " + body["messages"][-1]["content"]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append({"path": self.path, "body": body})
            status = self.server.always or (self.server.script.pop(0) if self.server.script else 200)
        if self.path != "/v1/chat/completions":
            status = 404
        if status == 200 and self.server.raw is not None:
            payload = self.server.raw
        elif status == 200:
            message = {"role": "assistant", "content": self.server.reply(body)}
            payload = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
        else:
            payload = {"error": {"message": f"status {status}"}}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    """A real OpenAI chat-completions server on 127.0.0.1, `.url` = ``http://127.0.0.1:<port>/v1``.

    `.script`: HTTP statuses answered in turn before the default 200 ([503] = one failure, then success);
    `.always`: one status for every request; a 200 reply's content is `.reply(body)` (default
    ``echo: <last message>``), or the whole JSON body is `.raw` when set; every request is kept in
    `.requests` as {"path", "body"}."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests, httpd.script, httpd.always, httpd.reply, httpd.raw = [], [], None, _echo, None
    httpd.lock = threading.Lock()
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
