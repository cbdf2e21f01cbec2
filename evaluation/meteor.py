"""METEOR 1.5, driven under our own control, on one or more warm Java processes.

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
* warm processes are kept per Python process, because start-up costs about
  10 s and 12 s of CPU (loading the paraphrase tables);
* the segments' ``SCORE`` requests are split over several processes (METEOR
  is single-threaded, and a worker has a core to spare), then one process
  gets the single ``EVAL`` request with every stats line in the original
  order, as pycocoevalcap sends it. A segment's stats depend on that segment
  alone, and the totals come from the summed stats, so the numbers do not
  depend on how the segments were split;
* only a call of at least ``split_segments`` segments (default 10,000: all
  46k clips, not a split of 2,227) is split, because the helpers cost more
  than they give on an ordinary one. Measured on 2 cores (docs/performance.md):
  the test split cold in a new process took 13.3-16 s on one process against
  21.5 s on two, where the helper loads beside the first; warm, 3.7-4.2 s
  against 3.1-3.7 s, and only after five calls had brought both JITs up. The
  Python metrics take the other core meanwhile. In a worker, with a pool
  process per core, two processes each also meant four JVMs loading at once
  after a start, and a first submission of 46-62 s. A big call starts the
  helpers it finds not running and waits for them to load (each answers a
  start-up probe); on it, their 10 s of loading pays for itself.
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from .background import BackgroundCall
from .errors import EvaluationError
from .java import JAVA_ENCODING_FLAGS, METEOR_JAR, java_executable

# Measured (docs/configuration.md): the paraphrase tables keep about 315 MiB alive; 256m runs out of
# memory. The first process, which scores every ordinary call alone, warm in 4.0-4.3 s at 1g against
# 4.9-5.6 s at 512m (the test split, en); a helper, used only on big calls beside it, scores as fast at
# 512m, about 600 MiB RSS against 950 MiB at 1g. EVALUATION_METEOR_HEAP sets both.
HEAP_OVERRIDE = os.environ.get("EVALUATION_METEOR_HEAP") or None
FIRST_PROCESS_HEAP = HEAP_OVERRIDE or "1g"
HELPER_HEAP = HEAP_OVERRIDE or "512m"
DEFAULT_SPLIT_SEGMENTS = int(os.environ.get("EVALUATION_METEOR_SPLIT_SEGMENTS", "10000"))
DEFAULT_TIMEOUT_SECONDS = float(os.environ.get("EVALUATION_METEOR_TIMEOUT", "900"))


def _default_processes() -> int:
    configured = os.environ.get("EVALUATION_METEOR_PROCESSES")
    if configured:
        return max(1, int(configured))
    return 2 if (os.cpu_count() or 1) >= 2 else 1


DEFAULT_PROCESSES = _default_processes()

_EOF = object()
_CANCEL_POLL_SECONDS = 0.1
#: Sent to every new process: its answer, read and dropped by the pump, says the process has loaded.
_PROBE = "SCORE ||| ready ||| ready"
_READY_POLL_SECONDS = 0.2


class MeteorError(EvaluationError):
    pass


class MeteorCancelled(MeteorError):
    pass


class _SiblingFailed(Exception):
    """Another process of the same call failed: its error is the one to report."""


class _ProcessExited(Exception):
    def __init__(self, process: _JavaProcess | None = None):
        super().__init__()
        self.process = process


def score_line(hypothesis: str, references: Sequence[str]) -> str:
    """The SCORE request pycocoevalcap's ``Meteor._stat`` sends, byte for byte."""
    hypothesis = hypothesis.replace("|||", "").replace("  ", " ")
    return " ||| ".join(("SCORE", " ||| ".join(references), hypothesis))


def eval_line(stats_lines: Sequence[str]) -> str:
    """The EVAL request pycocoevalcap's ``Meteor.compute_score`` sends for these stats lines."""
    return "EVAL ||| " + " ||| ".join(stats_lines)


def split_evenly(items: Sequence, parts: int) -> list[Sequence]:
    """``items`` cut into at most ``parts`` contiguous, non-empty slices of near-equal length."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    slices, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        slices.append(items[start:end])
        start = end
    return slices


class _JavaProcess:
    """One METEOR Java process: started on demand, read with deadlines, never used across fork()."""

    def __init__(self, heap: str):
        self.heap = heap
        self._process: subprocess.Popen | None = None
        self._owner_pid: int | None = None
        self._lines: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        # Held while starting or killing: a warm-up thread may start the process while a failed call kills it.
        self._lifecycle = threading.RLock()

    @property
    def pid(self) -> int | None:
        if self._process is not None and self._owner_pid == os.getpid():
            return self._process.pid
        return None

    @property
    def alive(self) -> bool:
        return self.pid is not None and self._process.poll() is None

    @property
    def ready(self) -> bool:
        """Running for this Python process, and it has answered the start-up probe."""
        return self._ready.is_set() and self.alive

    def wait_ready(self, timeout: float, should_stop: Callable[[], bool] | None = None) -> bool:
        """Wait until the process answered its probe; False on a timeout, a stop, or when it is gone."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(timeout=min(_READY_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            if not self.alive or time.monotonic() >= deadline or (should_stop is not None and should_stop()):
                return False
        return self.alive

    def ensure(self) -> subprocess.Popen:
        with self._lifecycle:
            return self._ensure()

    def _ensure(self) -> subprocess.Popen:
        if self._owner_pid != os.getpid():
            # Inherited through fork(): the process belongs to the parent.
            self._process = None
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._kill()
        command = [
            java_executable(),
            f"-Xmx{self.heap}",
            # The throughput collector: loading the paraphrase tables and a cold test split took 14.4-14.9 s
            # against 15.4-16.2 s with the default G1 (the collector does not touch the numbers).
            "-XX:+UseParallelGC",
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
        ready = threading.Event()
        _write_lines(process.stdin, [_PROBE])
        threading.Thread(target=_pump_lines, args=(process.stdout, lines, ready), daemon=True).start()
        threading.Thread(target=_pump_stderr, args=(process.stderr, self._stderr_tail), daemon=True).start()
        self._process, self._owner_pid, self._lines, self._ready = process, os.getpid(), lines, ready
        return process

    def kill(self) -> None:
        with self._lifecycle:
            self._kill()

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None or self._owner_pid != os.getpid():
            return
        try:
            process.stdin.close()
        except OSError:
            pass
        process.kill()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def write(self, lines: Sequence[str]) -> None:
        _write_lines(self.ensure().stdin, lines)

    def write_in_background(self, lines: Sequence[str]) -> threading.Thread:
        """Write while the caller reads: the process answers as it goes, and both pipes have bounded buffers."""
        writer = threading.Thread(target=_write_lines, args=(self.ensure().stdin, lines), daemon=True)
        writer.start()
        return writer

    def read_line(
        self,
        deadline: float,
        timeout: float,
        cancel: threading.Event | None = None,
        stop: threading.Event | None = None,
    ) -> str:
        """The next line; ``cancel`` (the caller's) and ``stop`` (a failed sibling) end the wait early."""
        polled = cancel is not None or stop is not None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MeteorError(f"METEOR did not answer within {timeout:g} s")
            if cancel is not None and cancel.is_set():
                raise MeteorCancelled("METEOR scoring was cancelled")
            if stop is not None and stop.is_set():
                raise _SiblingFailed()
            try:
                # Wait in short slices when a stop can come: get() returns as soon as a line is there.
                line = self._lines.get(timeout=min(remaining, _CANCEL_POLL_SECONDS) if polled else remaining)
            except queue.Empty:
                continue
            break
        if line is _EOF:
            raise _ProcessExited(self)
        return line

    def error_hint(self) -> str | None:
        """The last exception the Java runtime printed, if any."""
        # Give the Java runtime a moment to flush its dying words.
        time.sleep(0.05)
        errors = [line for line in self._stderr_tail if "Exception" in line or "Error" in line]
        return errors[-1].strip() if errors else None


class Meteor:
    """METEOR 1.5 on ``processes`` Java processes, and the protocol to talk to them."""

    def __init__(
        self,
        *,
        heap: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        processes: int = DEFAULT_PROCESSES,
        split_segments: int = DEFAULT_SPLIT_SEGMENTS,
    ):
        """``heap`` sets every process's; by default the first gets more (it does all the work of most calls)."""
        if processes < 1:
            raise ValueError("METEOR needs at least one process")
        self.timeout = timeout
        #: A call with fewer segments runs on the first process alone, and starts no helper.
        self.split_segments = max(1, split_segments)
        self._lock = threading.Lock()
        self._processes = [_JavaProcess(heap or FIRST_PROCESS_HEAP)]
        self._processes += [_JavaProcess(heap or HELPER_HEAP) for _ in range(processes - 1)]

    @property
    def heap(self) -> str:
        """The first process's heap."""
        return self._processes[0].heap

    @heap.setter
    def heap(self, value: str) -> None:
        # Takes effect when a process is next started.
        for process in self._processes:
            process.heap = value

    # -- process lifecycle -------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The id of the Java process that aggregates (``EVAL``), while it runs for this Python process."""
        return self._processes[0].pid

    @property
    def process_count(self) -> int:
        return len(self._processes)

    @property
    def pids(self) -> list[int | None]:
        """Every Java process's id (``None`` where none runs for this Python process)."""
        return [process.pid for process in self._processes]

    def start(self) -> None:
        """Start the first Java process now; it keeps loading in the background. Helpers start with a big call."""
        with self._lock:
            self._processes[0].ensure()

    def wait_first_loaded(self, timeout: float | None = None, should_stop: Callable[[], bool] | None = None) -> bool:
        """Start the first process and wait until it has loaded, unless ``should_stop()`` says otherwise first."""
        self.start()
        return self._processes[0].wait_ready(self.timeout if timeout is None else timeout, should_stop)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Start every process, helpers too, and wait until each has loaded; False if one has not within ``timeout``."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._lock:
            for process in self._processes:
                process.ensure()
        return all(process.wait_ready(max(0.0, deadline - time.monotonic())) for process in self._processes)

    def close(self) -> None:
        with self._lock:
            self._kill_all()

    def _kill_all(self) -> None:
        for process in self._processes:
            process.kill()

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
        :class:`MeteorCancelled`, and the processes, in an unknown state, are
        killed (the next call starts fresh ones).
        """
        if gts.keys() != res.keys():
            raise ValueError("references and hypotheses cover different ids")
        requests = []
        for key in gts:
            if len(res[key]) != 1:
                raise ValueError(f"{key}: METEOR takes exactly one hypothesis, got {len(res[key])}")
            line = score_line(res[key][0], gts[key])
            if "\n" in line or "\r" in line:
                raise ValueError(f"{key}: a line break would break the METEOR protocol; normalize first")
            requests.append(line)
        if not requests:
            raise ValueError("nothing to score")

        with self._lock:
            deadline = time.monotonic() + self.timeout
            reused = any(pid is not None for pid in self.pids)
            try:
                return self._guarded(self._score, requests, deadline, cancel)
            except _ProcessExited as exited:
                if not reused:
                    raise MeteorError(self._describe("the METEOR process exited", exited)) from None
            # A warm process that died since the last call: start afresh, once.
            try:
                return self._guarded(self._score, requests, deadline, cancel)
            except _ProcessExited as exited:
                raise MeteorError(self._describe("the METEOR process exited", exited)) from None

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
                return self._guarded(self._evaluate, list(stats_lines), deadline, None)
            except _ProcessExited as exited:
                raise MeteorError(self._describe("the METEOR process exited", exited)) from None

    def _guarded(self, conversation, lines, deadline, cancel):
        """Run a conversation; on any failure kill every process, whose state is then unknown."""
        try:
            return conversation(lines, deadline, cancel)
        except BaseException as exc:
            self._kill_all()
            if isinstance(exc, (_ProcessExited, MeteorCancelled)):
                raise
            if isinstance(exc, (MeteorError, OSError, ValueError)):
                raise MeteorError(self._describe(str(exc) or type(exc).__name__)) from exc
            raise

    def _score(self, requests, deadline, cancel) -> tuple[float, list[float], list[str]]:
        if cancel is not None and cancel.is_set():
            raise MeteorCancelled("METEOR scoring was cancelled")
        first = self._processes[0]
        first.ensure()
        active = [first]
        if len(requests) >= self.split_segments and len(self._processes) > 1:
            active += self._loaded_helpers(deadline, cancel)
        chunks = split_evenly(requests, len(active))
        stop = threading.Event()  # a failing helper stops its siblings
        helpers = [
            BackgroundCall(self._score_chunk, process, chunk, deadline, cancel, stop, on_error=stop.set)
            for process, chunk in zip(active[1:], chunks[1:], strict=False)
        ]
        try:
            stats = self._score_chunk(first, chunks[0], deadline, cancel, stop)
            for helper in helpers:
                stats.extend(helper.result())
        except BaseException as exc:
            # No helper may outlive the call: it would read the next call's lines.
            stop.set()
            for helper in helpers:
                helper.join()
            if isinstance(exc, _SiblingFailed):
                raise _first_failure(helpers) from None
            raise
        total, segment_scores = self._evaluate(stats, deadline, cancel)
        return total, segment_scores, stats

    def _loaded_helpers(self, deadline: float, cancel: threading.Event | None) -> list[_JavaProcess]:
        """Start the helpers not running, all at once, and wait for them: on a call this big, a helper's
        10 s of loading pays for itself. One that fails to load is left out; the others do its part."""
        helpers = self._processes[1:]
        for helper in helpers:
            helper.ensure()
        cancelled = (lambda: cancel.is_set()) if cancel is not None else None
        loaded = [helper for helper in helpers if helper.wait_ready(max(0.0, deadline - time.monotonic()), cancelled)]
        if cancel is not None and cancel.is_set():
            raise MeteorCancelled("METEOR scoring was cancelled")
        return loaded

    def _score_chunk(self, process: _JavaProcess, requests, deadline, cancel, stop) -> list[str]:
        writer = process.write_in_background(requests)
        stats = [process.read_line(deadline, self.timeout, cancel, stop) for _ in requests]
        writer.join(timeout=max(0.0, deadline - time.monotonic()))
        return stats

    def _evaluate(self, stats_lines, deadline, cancel) -> tuple[float, list[float]]:
        process = self._processes[0]
        process.write([eval_line(stats_lines)])
        segment_scores = [float(process.read_line(deadline, self.timeout, cancel)) for _ in stats_lines]
        total = float(process.read_line(deadline, self.timeout, cancel))
        return total, segment_scores

    def _describe(self, message: str, exited: _ProcessExited | None = None) -> str:
        processes = [exited.process] if exited is not None and exited.process else self._processes
        hints = [hint for hint in (process.error_hint() for process in processes) if hint]
        if hints:
            message += f" ({hints[-1]})"
        return message


def _first_failure(helpers: Sequence[BackgroundCall]) -> BaseException:
    """The error that stopped the siblings (not one of the stops it caused)."""
    for helper in helpers:
        if helper.error is not None and not isinstance(helper.error, _SiblingFailed):
            return helper.error
    return MeteorError("a METEOR process failed")


def _pump_lines(stream, lines: queue.Queue, ready: threading.Event) -> None:
    try:
        if stream.readline():  # the probe's answer (an empty read: the process is gone)
            ready.set()
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
    """The warm METEOR processes of this Python process."""
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
