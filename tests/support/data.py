"""Where the project, the demo data and the real Movie101v2 annotations are, and small data helpers. No Django."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "demo" / "data"
DEMO_PREDICTIONS = ROOT / "demo" / "predictions"


def movie101v2_root() -> Path | None:
    """``$MOVIE101V2_DATA``, else ``../shared/movie101v2`` beside the project."""
    configured = os.environ.get("MOVIE101V2_DATA")
    path = Path(configured) if configured else ROOT.parent / "shared" / "movie101v2"
    if (path / "splits.json").exists():
        return path
    if configured:
        raise RuntimeError(f"MOVIE101V2_DATA={configured} has no splits.json")
    return None


def shifted_predictions(references: dict[str, str]) -> dict[str, str]:
    """Plausible but wrong narrations: each clip gets its predecessor's reference."""
    ids = sorted(references)
    return {clip_id: references[ids[index - 1]] for index, clip_id in enumerate(ids)}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def procfile() -> dict[str, str]:
    """The Procfile's processes: name -> command line, in the file's order."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def start_procfile_process(env: dict, name: str, log_path: Path) -> subprocess.Popen:
    """The Procfile's ``name`` process from the project root, in a session of its own, logging to ``log_path``."""
    with log_path.open("w") as log:
        return subprocess.Popen(
            ["sh", "-c", procfile()[name]],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM to the process's whole group (gunicorn's or Celery's children too), SIGKILL after ``timeout`` s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
