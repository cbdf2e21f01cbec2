"""A real HTTP server on loopback that speaks the OpenAI chat-completions protocol.

It stands in for a judge (OpenAI, vLLM, Ollama...) in tests and in the bench.
Its answers are a pure function of the prompt (:func:`scores_for`), so a test
can compute what every clip must score without asking it. Faults are
scripted per request: HTTP errors with headers, hangs past the client's
timeout, answers of any text, and 200 responses whose body is not a
chat completion at all (truncated JSON, no choices).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from evaluation.judge import STAGE_KEYS, templates_for

ROOT = Path(__file__).resolve().parents[2]
#: GET {base_url}/fake-judge/stats: what a judge in another process (:class:`JudgeProcess`) counted.
STATS_PATH = "/fake-judge/stats"


def stage_of(prompt: str) -> str:
    """Which stage a prompt asks about, from the answer it asks for (narrations may say "environment")."""
    return "l2" if '{"plot"' in prompt or "plot score" in prompt.lower() else "l1"


def scores_for(prompt: str) -> dict[str, int]:
    """The fake judge's verdict on a prompt: fixed by the prompt's bytes."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return {key: digest[index] % 6 for index, key in enumerate(STAGE_KEYS[stage_of(prompt)])}


def json_answer(prompt: str) -> str:
    return json.dumps(scores_for(prompt))


def comma_answer(prompt: str) -> str:
    return ",".join(str(value) for value in scores_for(prompt).values())


def expected_stage_metrics(references, predictions, language, templates=None) -> dict[str, float]:
    """The means of this judge's answers over a split, computed exactly with fractions."""
    templates = templates or templates_for(language)
    environment = character = plot = 0
    for clip_id, reference in references.items():
        prediction = predictions.get(clip_id, "")
        l1 = scores_for(templates["l1"].messages(reference, prediction)[-1]["content"])
        l2 = scores_for(templates["l2"].messages(reference, prediction)[-1]["content"])
        environment, character, plot = environment + l1["environment"], character + l1["character"], plot + l2["plot"]
    clips = len(references)
    return {
        "l1_environment": float(Fraction(environment, clips)),
        "l1_character": float(Fraction(character, clips)),
        "l1": float(Fraction(environment + character, 2 * clips)),
        "l2": float(Fraction(plot, clips)),
    }


@dataclass
class Fault:
    """What to do instead of answering: an HTTP status, a hang, another answer text, or a raw body."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0
    text: str | None = None
    #: Sent as is with 200 and ``Content-Type: application/json``: a broken proxy or server.
    body: bytes | None = None


@dataclass
class Request:
    body: dict[str, Any]
    prompt: str
    received_at: float
    answered_with: str = ""


class FakeJudge:
    """``with FakeJudge() as judge: ... judge.base_url ...``"""

    def __init__(
        self, *, answer: Callable[[str], str] = json_answer, latency: float = 0.0, reject_response_format: bool = False
    ):
        self.answer = answer
        self.latency = latency
        self.reject_response_format = reject_response_format
        #: prompt -> faults still to serve for that prompt, in order.
        self._faults_by_prompt: dict[str, list[Fault]] = {}
        #: faults for the next requests, whatever they ask.
        self._faults_next: list[Fault] = []
        #: Called with each request's prompt; may return a Fault.
        self.fault_rule: Callable[[str, int], Fault | None] | None = None
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- scripting ---------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults_next.extend(faults)

    def fail_prompt(self, prompt: str, *faults: Fault) -> None:
        with self._lock:
            self._faults_by_prompt.setdefault(prompt, []).extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults_next.clear()
            self._faults_by_prompt.clear()
        self.fault_rule = None

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _take_fault(self, prompt: str, index: int) -> Fault | None:
        with self._lock:
            if self._faults_next:
                return self._faults_next.pop(0)
            queued = self._faults_by_prompt.get(prompt)
            if queued:
                return queued.pop(0)
        return self.fault_rule(prompt, index) if self.fault_rule else None

    # -- serving -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeJudge:
        judge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real servers (uvicorn, nginx) set it. Without it the body, written after the
            # headers, waits for the client's delayed ACK: about 40 ms a response, which the bench measured
            # as the client reaching only 75-80% of concurrency / latency.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, payload: dict | bytes, headers: dict[str, str] | None = None) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith(STATS_PATH):
                    with judge._lock:
                        self._send(200, {"calls": len(judge.requests), "max_in_flight": judge.max_in_flight})
                elif self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "fake-judge", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                messages = body.get("messages") or []
                prompt = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
                with judge._lock:
                    request = Request(body, prompt, time.monotonic())
                    judge.requests.append(request)
                    index = len(judge.requests)
                    judge.in_flight += 1
                    judge.max_in_flight = max(judge.max_in_flight, judge.in_flight)
                try:
                    self._answer(request, index)
                finally:
                    with judge._lock:
                        judge.in_flight -= 1

            def _answer(self, request: Request, index: int) -> None:
                body = request.body
                if judge.reject_response_format and "response_format" in body:
                    request.answered_with = "400 response_format"
                    self._send(
                        400,
                        {
                            "error": {
                                "message": "response_format is not supported by this server",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                    return
                fault = judge._take_fault(request.prompt, index)
                if judge.latency:
                    time.sleep(judge.latency)
                if fault and fault.hang_seconds:
                    request.answered_with = "hang"
                    time.sleep(fault.hang_seconds)
                if fault and fault.status:
                    request.answered_with = str(fault.status)
                    self._send(fault.status, {"error": {"message": f"injected {fault.status}"}}, fault.headers)
                    return
                if fault and fault.body is not None:
                    request.answered_with = "raw body"
                    self._send(200, fault.body, fault.headers)
                    return
                text = fault.text if fault and fault.text is not None else judge.answer(request.prompt)
                request.answered_with = text
                prompt_tokens = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{index}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", ""),
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": len(text) // 4 + 1,
                            "total_tokens": prompt_tokens + len(text) // 4 + 1,
                        },
                    },
                )

        class Server(ThreadingHTTPServer):
            # A run with 32 requests in flight must not see refused connections.
            request_queue_size = 128
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-judge", daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class JudgeProcess:
    """``with JudgeProcess(latency=0.2) as judge: ... judge.base_url ... judge.stats()``

    The default :class:`FakeJudge` in a process of its own, as a remote endpoint is: its threads
    neither take the client's GIL nor count in the client's CPU time. For the bench; tests script
    faults on an in-process :class:`FakeJudge`.
    """

    def __init__(self, *, latency: float = 0.0):
        self.latency = latency
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> JudgeProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.judge_server", "--latency", repr(self.latency)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.__exit__()
            raise RuntimeError("the judge process did not start")
        return self

    def stats(self) -> dict[str, int]:
        """Requests received so far, and the most in flight at once."""
        with urllib.request.urlopen(self.base_url + STATS_PATH, timeout=10) as response:
            return json.loads(response.read())

    def __exit__(self, *exc_info) -> None:
        if self._process is None:
            return
        self._process.stdin.close()  # its signal to stop
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def main(argv: list[str] | None = None) -> None:
    """Serve until standard input closes, after printing the base URL: :class:`JudgeProcess`'s child."""
    parser = argparse.ArgumentParser(description="A loopback OpenAI-compatible judge with a fixed latency.")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    with FakeJudge(latency=args.latency) as judge:
        print(judge.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
