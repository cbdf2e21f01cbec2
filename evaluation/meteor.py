"""METEOR 1.5, driven under our own control.

pycocoevalcap's ``Meteor`` wrapper takes a lock and releases it only on
success. Any exception inside ``compute_score`` (a newline in the text, a
Java OutOfMemoryError) leaves the lock held, and the next call or interpreter
exit hangs forever. This driver speaks the same stdio protocol to the same
jar with the same options, so the numbers are identical, but:

* every read has a deadline, and a process that times out, dies or answers
  garbage is killed and started afresh on the next call;
* a process inherited through ``fork()`` is never used: Celery forks its
  pool after import, and two processes writing to one METEOR pipe read each
  other's numbers;
* one warm process is kept per Python process, because start-up costs about
  5 s.
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from .errors import EvaluationError
from .java import JAVA_ENCODING_FLAGS, METEOR_JAR, java_executable

DEFAULT_HEAP = os.environ.get("EVALUATION_METEOR_HEAP", "2G")
DEFAULT_TIMEOUT_SECONDS = float(os.environ.get("EVALUATION_METEOR_TIMEOUT", "900"))

_EOF = object()
_CANCEL_POLL_SECONDS = 0.1


class MeteorError(EvaluationError):
    pass


class MeteorCancelled(MeteorError):
    pass


class _ProcessExited(Exception):
    pass


def score_line(hypothesis: str, references: Sequence[str]) -> str:
    """The SCORE request pycocoevalcap's ``Meteor._stat`` sends, byte for byte."""
    hypothesis = hypothesis.replace("|||", "").replace("  ", " ")
    return " ||| ".join(("SCORE", " ||| ".join(references), hypothesis))


class Meteor:
    """One METEOR 1.5 Java process and the protocol to talk to it."""

    def __init__(self, *, heap: str = DEFAULT_HEAP, timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self.heap = heap
        self.timeout = timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._owner_pid: int | None = None
        self._lines: queue.Queue = queue.Queue()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)

    # -- process lifecycle -------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The Java process id, while one is running for this Python process."""
        if self._process is not None and self._owner_pid == os.getpid():
            return self._process.pid
        return None

    def start(self) -> None:
        """Start the Java process now (it keeps loading in the background)."""
        with self._lock:
            self._ensure_process()

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _ensure_process(self) -> subprocess.Popen:
        if self._owner_pid != os.getpid():
            # Inherited through fork(): the process belongs to the parent.
            self._process = None
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._kill()
        command = [
            java_executable(),
            f"-Xmx{self.heap}",
            *JAVA_ENCODING_FLAGS,
            "-jar",
            str(METEOR_JAR),
            "-",
            "-",
            "-stdio",
            "-l",
            "en",
            "-norm",
        ]
        process = subprocess.Popen(
            command,
            cwd=str(METEOR_JAR.parent),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump_lines, args=(process.stdout, lines), daemon=True).start()
        threading.Thread(target=_pump_stderr, args=(process.stderr, self._stderr_tail), daemon=True).start()
        self._process, self._owner_pid, self._lines = process, os.getpid(), lines
        return process

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None or self._owner_pid != os.getpid():
            return
        for stream in (process.stdin,):
            try:
                stream.close()
            except OSError:
                pass
        process.kill()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    # -- scoring -----------------------------------------------------------

    def compute_score(
        self, gts: Mapping[str, Sequence[str]], res: Mapping[str, Sequence[str]]
    ) -> tuple[float, list[float]]:
        """Same contract as ``pycocoevalcap.meteor.meteor.Meteor.compute_score``."""
        total, segment_scores, _ = self.compute_score_and_stats(gts, res)
        return total, segment_scores

    def compute_score_and_stats(
        self,
        gts: Mapping[str, Sequence[str]],
        res: Mapping[str, Sequence[str]],
        *,
        cancel: threading.Event | None = None,
    ) -> tuple[float, list[float], list[str]]:
        """:meth:`compute_score`, plus the stats line METEOR gave for each segment.

        A stats line holds METEOR's 23 sufficient statistics of one segment
        (``evaluation.stats.METEOR_FIELDS``); the total is METEOR's own
        aggregation of them (the ``EVAL`` request).

        ``cancel``, set from another thread, stops a call that runs in a
        thread of its own: within a fraction of a second it raises
        :class:`MeteorCancelled`, and the process, in an unknown state, is
        killed (the next call starts a fresh one).
        """
        if gts.keys() != res.keys():
            raise ValueError("references and hypotheses cover different ids")
        ids = list(gts.keys())
        requests = []
        for key in ids:
            if len(res[key]) != 1:
                raise ValueError(f"{key}: METEOR takes exactly one hypothesis, got {len(res[key])}")
            line = score_line(res[key][0], gts[key])
            if "\n" in line or "\r" in line:
                raise ValueError(f"{key}: a line break would break the METEOR protocol; normalize first")
            requests.append(line)
        if not ids:
            raise ValueError("nothing to score")

        with self._lock:
            deadline = time.monotonic() + self.timeout
            reused = self.pid is not None
            try:
                return self._conversation(ids, requests, deadline, cancel)
            except _ProcessExited:
                if not reused:
                    raise MeteorError(self._describe("the METEOR process exited")) from None
            # A warm process that died since the last call: start afresh, once.
            try:
                return self._conversation(ids, requests, deadline, cancel)
            except _ProcessExited:
                raise MeteorError(self._describe("the METEOR process exited")) from None

    def _conversation(self, ids, requests, deadline, cancel=None) -> tuple[float, list[float], list[str]]:
        try:
            if cancel is not None and cancel.is_set():
                raise MeteorCancelled("METEOR scoring was cancelled")
            process = self._ensure_process()
            writer = threading.Thread(target=_write_lines, args=(process.stdin, requests), daemon=True)
            writer.start()
            stats = [self._read_line(deadline, cancel) for _ in requests]
            writer.join(timeout=max(0.0, deadline - time.monotonic()))
            _write_lines(process.stdin, ["EVAL ||| " + " ||| ".join(stats)])
            segment_scores = [float(self._read_line(deadline, cancel)) for _ in ids]
            total = float(self._read_line(deadline, cancel))
        except BaseException as exc:
            # The process state is unknown: never reuse it.
            self._kill()
            if isinstance(exc, (_ProcessExited, MeteorCancelled)):
                raise
            if isinstance(exc, (MeteorError, OSError, ValueError)):
                raise MeteorError(self._describe(str(exc) or type(exc).__name__)) from exc
            raise
        return total, segment_scores, stats

    def evaluate(self, stats_lines: Sequence[str]) -> tuple[float, list[float]]:
        """METEOR's own aggregation of stats lines: one ``EVAL`` request.

        Returns the total and each line's score, as the Java process computes
        them. A line may be given several times (a bootstrap resample).
        """
        if not stats_lines:
            raise ValueError("nothing to evaluate")
        for line in stats_lines:
            if "|" in line or "\n" in line or "\r" in line:
                raise ValueError(f"not a METEOR stats line: {line!r}")
        with self._lock:
            deadline = time.monotonic() + self.timeout
            try:
                process = self._ensure_process()
                _write_lines(process.stdin, ["EVAL ||| " + " ||| ".join(stats_lines)])
                segment_scores = [float(self._read_line(deadline)) for _ in stats_lines]
                total = float(self._read_line(deadline))
            except BaseException as exc:
                self._kill()
                if isinstance(exc, (MeteorError, OSError, ValueError, _ProcessExited)):
                    raise MeteorError(self._describe(str(exc) or type(exc).__name__)) from exc
                raise
        return total, segment_scores

    def _read_line(self, deadline: float, cancel: threading.Event | None = None) -> str:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MeteorError(f"METEOR did not answer within {self.timeout:g} s")
            if cancel is not None and cancel.is_set():
                raise MeteorCancelled("METEOR scoring was cancelled")
            try:
                # Wait in short slices when a cancel can come: get() returns as soon as a line is there.
                line = self._lines.get(timeout=remaining if cancel is None else min(remaining, _CANCEL_POLL_SECONDS))
            except queue.Empty:
                continue
            break
        if line is _EOF:
            raise _ProcessExited()
        return line

    def _describe(self, message: str) -> str:
        # Give the Java runtime a moment to flush its dying words.
        time.sleep(0.05)
        errors = [line for line in self._stderr_tail if "Exception" in line or "Error" in line]
        if errors:
            message += f" ({errors[-1].strip()})"
        return message


def _pump_lines(stream, lines: queue.Queue) -> None:
    try:
        for raw in iter(stream.readline, b""):
            lines.put(raw.decode("utf-8").strip())
    except (OSError, ValueError):
        pass
    finally:
        lines.put(_EOF)


def _pump_stderr(stream, tail: collections.deque) -> None:
    try:
        for raw in iter(stream.readline, b""):
            tail.append(raw.decode("utf-8", "replace"))
    except (OSError, ValueError):
        pass


def _write_lines(stream, lines: Sequence[str]) -> None:
    try:
        for line in lines:
            stream.write(line.encode("utf-8") + b"\n")
        stream.flush()
    except (OSError, ValueError):
        pass  # the reader sees the process exit and reports it


_shared: Meteor | None = None
_shared_lock = threading.Lock()


def shared_meteor() -> Meteor:
    """The warm METEOR process of this Python process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Meteor()
        return _shared


def _forget_inherited_process() -> None:
    # A fork() child must start its own Java process. It leaves the parent's
    # pipes alone: closing a buffered copy could flush the parent's bytes twice.
    global _shared, _shared_lock
    _shared_lock = threading.Lock()
    _shared = None


def _close_shared() -> None:
    if _shared is not None and _shared.pid is not None:
        _shared.close()


os.register_at_fork(after_in_child=_forget_inherited_process)
atexit.register(_close_shared)
