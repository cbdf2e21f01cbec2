"""The participants' scorer installs with one command and gives the server's numbers.

Two fresh virtualenvs, neither with Django: one with ``pip install -r requirements-scorer.txt`` (what
the README tells participants), one with ``pycocoevalcap==1.2`` alone at the same pins (no judge
client). Each runs ``python -m evaluation`` from a folder holding only a copy of ``evaluation/``,
as a participant does, on demo/data and demo/predictions; the dev venv runs the same commands, and
the numbers must be the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from evaluation.metrics import CLASSIC_METRICS, STAGE_METRICS
from tests.support.data import DEMO_DATA, DEMO_PREDICTIONS, ROOT
from tests.support.judge_server import FakeJudge, expected_stage_metrics
from tests.support.venvs import VENVS_DIR, clean_env, fresh_venv, import_all, installed, normalized, pins

SCORER_REQUIREMENTS = ROOT / "requirements-scorer.txt"
SERVICE_REQUIREMENTS = ROOT / "requirements.txt"
#: What each score run scores: the references of a demo split and a demo predictions file (JSON and JSON Lines).
SETS = {"val-zh": ("val", "zh", "val-zh.json"), "test-en": ("test", "en", "test-en.jsonl")}
MODEL = "fake-judge-scorer-install"
INSTALL_HINT = "pip install -r requirements-scorer.txt"


def test_the_scorer_requirements_pin_what_the_server_runs():
    # The scorer's numbers are the server's only while both run the same versions.
    scorer, service = pins(SCORER_REQUIREMENTS), pins(SERVICE_REQUIREMENTS)
    assert {"pycocoevalcap", "pycocotools", "numpy", "openai"} <= set(scorer)
    assert {name: service.get(name) for name in scorer} == scorer
    assert "django" not in scorer


def project_pins(requirements: list[str]) -> dict[str, str]:
    """``{normalized name: version}`` of pyproject.toml's ``name==version`` requirements."""
    found = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        found[normalized(name)] = version.strip()
    return found


def test_pip_install_of_the_clone_pins_what_requirements_scorer_pins():
    # `pip install ./` installs the scorer's classic half; `./[judge]` adds the judge's client: together,
    # exactly requirements-scorer.txt, and nothing of the service.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    classic = project_pins(project["project"]["dependencies"])
    judge = project_pins(project["project"]["optional-dependencies"]["judge"])
    assert set(project["project"]["optional-dependencies"]) == {"judge"}
    assert classic == {name: pins(SCORER_REQUIREMENTS)[name] for name in ("pycocoevalcap", "pycocotools", "numpy")}
    assert classic | judge == pins(SCORER_REQUIREMENTS) and not set(classic) & set(judge)
    assert project["project"]["scripts"] == {"movie101v2": "evaluation.client.cli:main"}
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["evaluation", "evaluation.*"]
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"


def test_the_readme_gives_participants_that_one_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    participants = readme.split("## For participants", 1)[1].split("\n## ", 1)[0]
    assert INSTALL_HINT in participants and "default-jre-headless" in participants


@dataclass
class Scorer:
    python: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *args, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.python), "-m", "evaluation", *map(str, args)],
            cwd=self.cwd,
            env=self.env | extra_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


@pytest.fixture(scope="module")
def classic_venv():
    """pycocoevalcap 1.2 and what it needs, at requirements-scorer.txt's pins, and nothing else."""
    return fresh_venv(
        "scorer-classic", "pycocoevalcap==1.2", "-c", str(SCORER_REQUIREMENTS), files=(SCORER_REQUIREMENTS,)
    )


@pytest.fixture(scope="module")
def scorer_venv():
    return fresh_venv("scorer", "-r", str(SCORER_REQUIREMENTS), files=(SCORER_REQUIREMENTS,))


@pytest.fixture(scope="module")
def participant_folder(tmp_path_factory) -> Path:
    """A folder holding the evaluation package alone: nothing else of the repository is importable."""
    folder = tmp_path_factory.mktemp("participant")
    shutil.copytree(ROOT / "evaluation", folder / "evaluation", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture(scope="module")
def runs(classic_venv, scorer_venv, participant_folder, tmp_path_factory):
    """Every command, by the dev venv and both fresh ones, four chains side by side."""
    folder = tmp_path_factory.mktemp("scorer-runs")
    base = {
        name: value for name, value in clean_env(Path(sys.executable).parent).items() if not name.startswith("JUDGE_")
    }
    scorers = {
        "dev": Scorer(Path(sys.executable), ROOT, base),
        "classic": Scorer(classic_venv / "bin" / "python", participant_folder, clean_env(classic_venv / "bin", base)),
        "full": Scorer(scorer_venv / "bin" / "python", participant_folder, clean_env(scorer_venv / "bin", base)),
    }

    with FakeJudge() as judge:
        judge_flags = ("--judge-base-url", judge.base_url, "--judge-model", MODEL)

        def chain(name: str, *, scored=(), judged=False):
            scorer, out = scorers[name], {}
            out["help"] = scorer.run("--help")
            for key, (split, language, file) in SETS.items():
                references = folder / f"{name}-{key}.refs.json"
                out[f"references {key}"] = scorer.run(
                    "references", "--data", DEMO_DATA, "--split", split, "--language", language, "-o", references
                )
                out[f"validate {key}"] = scorer.run(
                    "validate", "--references", references, "--predictions", DEMO_PREDICTIONS / file
                )
            for key in scored:
                _, language, file = SETS[key]
                out[f"score {key}"] = scorer.run(
                    "score",
                    "--references",
                    folder / f"{name}-{key}.refs.json",
                    "--predictions",
                    DEMO_PREDICTIONS / file,
                    "--language",
                    language,
                    "--json",
                )
            if judged:
                out["judged test-en"] = scorer.run(
                    "score",
                    "--references",
                    folder / f"{name}-test-en.refs.json",
                    "--predictions",
                    DEMO_PREDICTIONS / "test-en.jsonl",
                    "--language",
                    "en",
                    "--json",
                    *judge_flags,
                )
            if name == "classic":
                score = (
                    "score",
                    "--references",
                    folder / "classic-test-en.refs.json",
                    "--predictions",
                    DEMO_PREDICTIONS / "test-en.jsonl",
                    "--language",
                    "en",
                    "--json",
                )
                out["judge flags"] = scorer.run(*score, *judge_flags)
                out["judge variables"] = scorer.run(*score, JUDGE_BASE_URL=judge.base_url, JUDGE_MODEL=MODEL)
            return {(name, key): value for key, value in out.items()}

        scorers["dev-judged"] = scorers["dev"]  # a second chain of the dev venv, so that none is much longer
        with ThreadPoolExecutor(max_workers=4) as pool:
            chains = [
                pool.submit(chain, "dev", scored=SETS),
                pool.submit(chain, "dev-judged", judged=True),
                pool.submit(chain, "classic", scored=SETS),
                pool.submit(chain, "full", judged=True),
            ]
            results = {}
            for future in chains:
                results |= future.result()
        results["judge calls"] = judge.calls
    results["folder"] = folder
    return results


def ok(completed: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert completed.returncode == 0, (
        f"exit {completed.returncode}\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}"
    )
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


def output(completed: subprocess.CompletedProcess) -> dict:
    return json.loads(ok(completed).stdout)


def comparable(result: dict) -> dict:
    """A score's JSON less what may differ from run to run: durations, and the judge's request accounting."""
    result = {key: value for key, value in result.items() if key != "duration_seconds"}
    result["judge"] = {
        key: value for key, value in result["judge"].items() if key not in ("duration_seconds", "accounting")
    }
    return result


def predictions_of(file: str) -> dict[str, str]:
    path = DEMO_PREDICTIONS / file
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return {line["clip_id"]: line["narration"] for line in lines}
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_each_venv_holds_only_its_requirements_and_no_django(classic_venv, scorer_venv):
    scorer = pins(SCORER_REQUIREMENTS)
    assert installed(scorer_venv) == scorer
    assert installed(classic_venv) == {name: scorer[name] for name in ("pycocoevalcap", "pycocotools", "numpy")}


@pytest.mark.slow
@pytest.mark.parametrize("venv", ["classic", "full"])
def test_every_evaluation_module_imports_without_django(venv, classic_venv, scorer_venv, participant_folder):
    # Every module, the judge client too: without openai, it imports and asks for openai only when used.
    # With the full file, so does everything the modules import inside functions (openai among it).
    bin_dir = (classic_venv if venv == "classic" else scorer_venv) / "bin"
    completed = import_all(
        bin_dir, "evaluation", root=participant_folder, lazy=venv == "full", forbid=("django", "leaderboard")
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    imported = set(completed.stdout.splitlines())
    assert "ok evaluation.judge.client" in imported
    assert ("ok openai" in imported) == (venv == "full")


@pytest.mark.slow
@pytest.mark.parametrize("venv", ["classic", "full"])
def test_help_references_and_validate_work_as_in_the_dev_venv(runs, venv):
    assert "{score,validate,references}" in ok(runs[venv, "help"]).stdout
    for key in SETS:
        ok(runs[venv, f"references {key}"])
        written = (runs["folder"] / f"{venv}-{key}.refs.json").read_bytes()
        assert written == (runs["folder"] / f"dev-{key}.refs.json").read_bytes()
        validated = ok(runs[venv, f"validate {key}"]).stdout
        assert validated == ok(runs["dev", f"validate {key}"]).stdout and validated.startswith("OK: ")


@pytest.mark.slow
def test_without_openai_the_classic_scores_are_the_dev_venvs(runs):
    for key in SETS:
        result = output(runs["classic", f"score {key}"])
        assert set(result["metrics"]) == set(CLASSIC_METRICS)
        assert result["judge"]["status"] == "not_configured"
        assert comparable(result) == comparable(output(runs["dev", f"score {key}"]))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["judge flags", "judge variables"])
def test_without_openai_a_judge_is_refused_saying_what_to_install(runs, how):
    completed = runs["classic", how]
    assert completed.returncode == 2 and completed.stdout == ""  # refused before any scoring
    assert "Traceback" not in completed.stderr
    assert "needs the openai package" in completed.stderr and INSTALL_HINT in completed.stderr, completed.stderr


@pytest.mark.slow
def test_the_full_scorer_gives_the_dev_venvs_judge_scores(runs):
    judged, dev = output(runs["full", "judged test-en"]), output(runs["dev-judged", "judged test-en"])
    assert judged["judge"]["status"] == "complete", judged["judge"]
    assert set(judged["metrics"]) == set(CLASSIC_METRICS) | set(STAGE_METRICS)
    assert comparable(judged) == comparable(dev)
    references = json.loads((runs["folder"] / "full-test-en.refs.json").read_text(encoding="utf-8"))
    expected = expected_stage_metrics(references, predictions_of("test-en.jsonl"), "en")
    assert {name: judged["metrics"][name] for name in STAGE_METRICS} == expected
    # The classic half is the no-openai venv's too.
    classic = output(runs["classic", "score test-en"])["metrics"]
    assert {name: judged["metrics"][name] for name in CLASSIC_METRICS} == classic
    # The two judged runs (dev, full) asked about every clip twice (L1, L2); the refused runs asked nothing.
    assert runs["judge calls"] == 2 * 2 * len(references)


@pytest.fixture(scope="module")
def clone_copy() -> Path:
    """What ``pip install ./`` reads of a clone (pyproject.toml, README.md, the packages), copied, so that the
    build's own files (``build/``, ``*.egg-info``) are written beside the copy, not in the checkout. Named by its
    content: a second run reuses the copy and the virtualenv installed from it."""
    files = [ROOT / "pyproject.toml", ROOT / "README.md"]
    for package in ("evaluation", "leaderboard", "workers", "tests"):  # the service and tests too: left out by find
        files += sorted(path for path in (ROOT / package).rglob("*.py") if "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    copy = VENVS_DIR / f"clone-{digest.hexdigest()[:16]}"
    if not copy.exists():
        VENVS_DIR.mkdir(parents=True, exist_ok=True)
        for stale in VENVS_DIR.glob("clone-*"):  # copies of sources that have changed since
            if stale.is_dir() and re.fullmatch(r"clone-[0-9a-f]{16}", stale.name):
                shutil.rmtree(stale, ignore_errors=True)
        partial = VENVS_DIR / f"{copy.name}.{os.getpid()}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        for path in files:
            target = partial / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        try:
            partial.rename(copy)
        except OSError:  # another run made it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return copy


@pytest.mark.slow
def test_pip_install_of_the_clone_gives_the_client_and_the_scorer_without_django(clone_copy, tmp_path):
    venv = fresh_venv("client", str(clone_copy), files=(clone_copy / "pyproject.toml",))
    bin_dir = venv / "bin"
    # Only the scorer's classic pins (and the package itself): no Django, DRF, Celery, boto3, psycopg, openai.
    # (pip freeze names the package itself by its folder, "movie101v2-leaderboard @ file://...": not a pin.)
    assert installed(venv) == {
        name: pins(SCORER_REQUIREMENTS)[name] for name in ("pycocoevalcap", "pycocotools", "numpy")
    }
    assert "movie101v2-leaderboard @ file:" in (venv / ".installed").read_text(encoding="utf-8")
    env = clean_env(bin_dir)
    client = subprocess.run(
        [str(bin_dir / "movie101v2"), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert client.returncode == 0 and "validate" in client.stdout and "submit" in client.stdout, client.stderr
    # Only the evaluation package, with the jars it needs (pycocoevalcap's), from a folder outside the clone.
    probe = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import importlib.util as u, evaluation.client.cli; from evaluation.java import METEOR_JAR, CORENLP_JAR; "
            "print([n for n in ('leaderboard', 'workers', 'tests', 'django') if u.find_spec(n)], "
            "METEOR_JAR.is_file(), CORENLP_JAR.is_file())",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout.split() == ["[]", "True", "True"], probe.stderr
    # The installed scorer runs as in the README.
    references = tmp_path / "val-en.refs.json"
    for args in (
        ("references", "--data", DEMO_DATA, "--split", "val", "--language", "en", "-o", references),
        ("validate", "--references", references, "--predictions", DEMO_PREDICTIONS / "val-en.json"),
    ):
        ran = subprocess.run(
            [str(bin_dir / "python"), "-m", "evaluation", *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
