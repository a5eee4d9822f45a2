"""The OpenAI-compatible judge against a real HTTP server on 127.0.0.1 serving a real local model.

`transformers serve` cannot run here (it needs fastapi, uvicorn and openai, which are not dependencies of
this project), so the test starts a small OpenAI chat-completions server (http.server, one thread) that
answers with SmolLM2-135M-Instruct, greedy, honouring `max_tokens`. The oracle: the judge's reply text must be
exactly what the same model generates locally for the same messages, and its verdict must be exactly
`parse_verdict` of that text (a 135M model rarely writes a valid `[[X]]` tag: then the sample is invalid).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from plot_eval.generation.batched import generate
from plot_eval.judges.base import JudgeContext, pairwise_score
from plot_eval.judges.openai_compat import OpenAIJudge, OpenAISettings, OpenAIVerdicts
from plot_eval.judges.prompt import parse_verdict, verdict_messages

pytestmark = pytest.mark.slow


class _ChatCompletions(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server API)
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model, tokenizer = self.server.pair
        text = generate(
            model, tokenizer, [body["messages"]], max_new_tokens=body["max_tokens"], progress=False
        )[0]
        payload = {
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(smollm2_pair):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ChatCompletions)
    httpd.pair = smollm2_pair
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def smollm2_pair():
    from plot_eval.models.defaults import default_scorer_model_path
    from plot_eval.models.loading import load_model

    return load_model(default_scorer_model_path())


def test_judge_reply_is_the_served_model_output_and_its_verdict_is_parsed(served, smollm2_pair):
    judge = OpenAIJudge(served, "SmolLM2-135M-Instruct", api_key_env=None, timeout=120, max_tokens=24)
    question, first, second = "What is the capital of France?", "Paris.", "I like turtles."
    messages = verdict_messages(question, first, second)
    expected = generate(*smollm2_pair, [messages], max_new_tokens=24, progress=False)[0]
    assert judge.chat(messages) == expected
    assert judge.compare(question, first, second) == parse_verdict(expected)


def test_registered_openai_judge_scores_through_the_server(served, smollm2_pair):
    """The registered judge (settings from YAML) gives the both-orders score the oracle texts imply."""
    settings = OpenAISettings(url=served, model="SmolLM2-135M-Instruct", api_key_env="", max_tokens=24)
    judge = OpenAIVerdicts(settings, JudgeContext(pool=None))
    assert judge.identity()["endpoint"] == served and judge.identity()["model"] == "SmolLM2-135M-Instruct"
    question, model_resp, baseline_resp = "Name a primary colour.", "Red.", "Banana bread recipe."
    texts = [
        generate(*smollm2_pair, [verdict_messages(question, a, b)], max_new_tokens=24, progress=False)[0]
        for a, b in ((model_resp, baseline_resp), (baseline_resp, model_resp))
    ]
    verdicts = [parse_verdict(text) for text in texts]
    if None in verdicts:
        expected = None
    else:
        first, second = (1.0 if v > 0.5 else 0.0 if v < 0.5 else 0.5 for v in verdicts)
        expected = first if first == 1.0 - second else 0.5
    assert pairwise_score(judge, question, model_resp, baseline_resp) == expected
