"""Fresh virtualenvs holding only what a requirements file installs, and processes run from them.

A virtualenv is made with ``python -m venv`` (the base interpreter, none of the dev ``.venv``'s
packages) and ``pip install`` of exactly the given arguments, then ``pip check``. It is kept under
``var/venvs/`` named by the sha256 of those arguments and the files they name, so a second run in the
same checkout reuses it and any change to a requirements file makes a new one. A clean clone (CI)
builds it on the first run; pip's download cache makes that quicker.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .data import ROOT

VENVS_DIR = ROOT / "var" / "venvs"
#: Written last: a folder without it is a build that was interrupted, and is made again.
COMPLETE_MARK = ".installed"


def fresh_venv(name: str, *pip_args: str, files: tuple[Path, ...] = ()) -> Path:
    """The folder of a virtualenv with only ``pip install *pip_args`` in it; ``files`` are the files the
    arguments read (requirements, constraints), whose content is part of the key."""
    digest = hashlib.sha256()
    digest.update(f"{platform.python_version()}\0{sys.base_prefix}\0".encode())
    digest.update("\0".join(pip_args).encode())
    for path in files:
        digest.update(b"\0" + path.read_bytes())
    venv = VENVS_DIR / f"{name}-{digest.hexdigest()[:16]}"
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    with open(VENVS_DIR / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second caller waits and reuses it
        if (venv / COMPLETE_MARK).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        for stale in VENVS_DIR.iterdir():  # this name's, made from requirements that have changed since
            if stale.is_dir() and stale != venv and re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{16}}", stale.name):
                shutil.rmtree(stale, ignore_errors=True)
        # A venv records the path it was made at: it is built where it stays, never moved.
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        python = str(venv / "bin" / "python")
        env = clean_env(venv / "bin")
        for command in ([python, "-m", "pip", "install", "--no-input", *pip_args], [python, "-m", "pip", "check"]):
            completed = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False
            )
            if completed.returncode != 0:
                raise AssertionError(
                    f"{' '.join(command[1:])} failed in the fresh virtualenv {venv}:\n"
                    f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
                )
        freeze = subprocess.run(
            [python, "-m", "pip", "freeze", "--all"], env=env, capture_output=True, text=True, check=True, timeout=120
        ).stdout
        (venv / COMPLETE_MARK).write_text(freeze, encoding="utf-8")
    return venv


def installed(venv: Path) -> dict[str, str]:
    """``{normalized name: version}`` of what pip installed in ``venv`` (pip, setuptools and wheel left out)."""
    found = {}
    for line in (venv / COMPLETE_MARK).read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        name = normalized(name)
        if version and name not in ("pip", "setuptools", "wheel"):
            found[name] = version
    return found


def pins(requirements: Path) -> dict[str, str]:
    """``{normalized name: version}`` of a requirements file's ``name==version`` lines."""
    found = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        found[normalized(name.split("[", 1)[0])] = version.strip()
    return found


def normalized(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def clean_env(bin_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this environment) with ``bin_dir`` first on PATH and no trace of another virtualenv:
    other virtualenvs' bin folders (the dev ``.venv``'s) are taken off PATH, and VIRTUAL_ENV, PYTHONPATH and
    PYTHONHOME are dropped, so ``python``, ``celery`` and ``gunicorn`` are ``bin_dir``'s."""
    env = dict(os.environ if base is None else base)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"):
        env.pop(name, None)
    path = [
        entry
        for entry in env.get("PATH", os.defpath).split(os.pathsep)
        if entry and not (Path(entry).parent / "pyvenv.cfg").exists()
    ]
    env["PATH"] = os.pathsep.join([str(bin_dir), *path])
    env["PYTHONNOUSERSITE"] = "1"  # nothing from ~/.local either
    return env


def import_all(
    bin_dir: Path,
    *packages: str,
    root: Path = ROOT,
    env: dict[str, str] | None = None,
    django: bool = False,
    lazy: bool = False,
    forbid: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """tests/support/import_all.py run by ``bin_dir``'s python on ``packages`` in ``root``
    (its options are these flags)."""
    command = [str(bin_dir / "python"), str(ROOT / "tests" / "support" / "import_all.py"), "--root", str(root)]
    command += ["--django"] if django else []
    command += ["--lazy"] if lazy else []
    for name in forbid:
        command += ["--forbid", name]
    return subprocess.run(
        [*command, *packages],
        cwd=root,
        env=env or clean_env(bin_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
