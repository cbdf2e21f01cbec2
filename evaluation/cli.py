"""``python -m evaluation``: validate and score narrations offline, as the server does."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .classic import LANGUAGES, score
from .errors import EvaluationError
from .intervals import DEFAULT_SEED, UNITS, BootstrapMethod, intervals
from .judge import (
    JudgeConfig,
    JudgeResult,
    SqliteJudgeCache,
    require_openai,
    run_judge,
    templates_for,
    templates_from_data,
)
from .metrics import CLASSIC_METRICS, STAGE_METRICS, metric_info
from .predictions import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_NARRATION_CHARS, ValidationReport, validate
from .references import load_references

EXIT_OK, EXIT_INVALID, EXIT_ERROR, EXIT_JUDGE_INCOMPLETE = 0, 1, 2, 3
#: Why a score has no L1 and L2, in the text output and as ``judge.reason`` in the JSON one.
NO_JUDGE_REASON = "none configured: L1 and L2 need --judge-base-url and --judge-model (or JUDGE_*)"
JUDGE_TURNED_OFF_REASON = "turned off with --no-judge: L1 and L2 are not computed"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description="Validate and score Movie101v2 narrations exactly as the leaderboard does.",
    )
    parser.add_argument("--version", action="version", version=f"evaluation {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def add_file_arguments(command: argparse.ArgumentParser) -> None:
        command.add_argument("--references", required=True, type=Path, help="{clip_id: narration} JSON (or JSON Lines)")
        command.add_argument("--predictions", required=True, type=Path, help="your narrations, same format")
        command.add_argument(
            "--allow-partial",
            action="store_true",
            help="score missing clips as empty narrations instead of refusing the file",
        )
        command.add_argument(
            "--max-narration-chars",
            type=int,
            default=DEFAULT_MAX_NARRATION_CHARS,
            help="the server's length cap per narration (default %(default)s)",
        )
        command.add_argument(
            "--confirm-language",
            action="store_true",
            help="the predictions are in --language although their script looks like the other language's",
        )
        command.add_argument("--json", action="store_true", help="print one JSON object and nothing else")

    score_command = commands.add_parser("score", help="compute the classic metrics")
    add_file_arguments(score_command)
    score_command.add_argument("--language", required=True, choices=LANGUAGES)
    score_command.add_argument(
        "--per-clip", type=Path, metavar="FILE", help="also write every clip's scores to FILE as JSON"
    )
    bootstrap = score_command.add_argument_group(
        "confidence intervals",
        "95%% bootstrap percentile intervals of every metric, computed exactly as the leaderboard does "
        "(same resamples for the same clips, unit and seed).",
    )
    bootstrap.add_argument("--intervals", action="store_true", help="also compute the intervals")
    bootstrap.add_argument(
        "--unit",
        choices=UNITS,
        default="clip",
        help="resample clips, or whole movies with all their clips (default %(default)s)",
    )
    bootstrap.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, metavar="N", help="the resampling seed (default %(default)s)"
    )
    bootstrap.add_argument(
        "--resamples", type=int, default=1000, metavar="N", help="number of resamples (default %(default)s)"
    )
    judge = score_command.add_argument_group(
        "LLM judge (L1, L2)",
        "Any OpenAI-compatible chat-completions endpoint. Defaults come from JUDGE_BASE_URL, JUDGE_MODEL, "
        "JUDGE_API_KEY (and the other JUDGE_* variables); without a base URL and a model, only the classic "
        "metrics are computed.",
    )
    judge.add_argument(
        "--judge-base-url", metavar="URL", help="e.g. https://api.openai.com/v1, http://127.0.0.1:8000/v1"
    )
    judge.add_argument("--judge-model", metavar="NAME")
    judge.add_argument("--judge-api-key", metavar="KEY", help="empty for a local server without keys")
    judge.add_argument(
        "--judge-cache",
        type=Path,
        metavar="FILE",
        help="SQLite file of answers: a second run asks only what is not in it",
    )
    judge.add_argument("--judge-concurrency", type=int, metavar="N", help="requests in flight (default 8)")
    judge.add_argument("--judge-temperature", type=float, metavar="T", help="default 0")
    judge.add_argument(
        "--judge-templates",
        type=Path,
        metavar="FILE",
        help="JSON {stage: {language: {user, system, parser}}} replacing our prompts",
    )
    judge.add_argument("--no-judge", action="store_true", help="ignore JUDGE_* and compute the classic metrics only")

    validate_command = commands.add_parser("validate", help="check a predictions file the way the upload does")
    add_file_arguments(validate_command)
    validate_command.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the language the file will be submitted as: checks that its narrations are in that script",
    )

    references_command = commands.add_parser(
        "references", help="write the references of a split from a Movie101v2 annotation folder"
    )
    references_command.add_argument("--data", required=True, type=Path, help="folder with splits.json and narration/")
    references_command.add_argument("--split", required=True, choices=("train", "val", "test"))
    references_command.add_argument("--language", required=True, choices=LANGUAGES)
    references_command.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "references":
            return _references(args)
        return _validate_or_score(args)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _validate_or_score(args: argparse.Namespace) -> int:
    references = load_references(args.references)
    try:
        data = args.predictions.read_bytes()
    except OSError as exc:
        raise EvaluationError(f"cannot read the predictions {args.predictions}: {exc.strerror}") from exc
    report = validate(
        data,
        references,
        filename=args.predictions.name,
        allow_partial=args.allow_partial,
        max_file_bytes=DEFAULT_MAX_FILE_BYTES,
        max_narration_chars=args.max_narration_chars,
        language=args.language,
        confirm_language=args.confirm_language,
    )
    if args.command == "validate" or not report.ok:
        _print_report(report, as_json=args.json)
        return EXIT_OK if report.ok else EXIT_INVALID

    judge_config = (
        None
        if args.no_judge
        else JudgeConfig.from_env(
            base_url=args.judge_base_url,
            model=args.judge_model,
            api_key=args.judge_api_key,
            concurrency=args.judge_concurrency,
            temperature=args.judge_temperature,
        )
    )
    method = BootstrapMethod(unit=args.unit, seed=args.seed, resamples=args.resamples) if args.intervals else None
    if judge_config is not None:
        require_openai()  # before the classic metrics, not after them
    templates = _read_templates(args.judge_templates) if args.judge_templates else {}

    result = score(references, report.predictions, args.language, allow_partial=args.allow_partial)
    judged = None
    if judge_config is not None:
        cache = SqliteJudgeCache(args.judge_cache) if args.judge_cache else None
        try:
            judged = run_judge(
                references,
                report.predictions,
                args.language,
                judge_config,
                templates=templates_for(args.language, templates),
                cache=cache,
                progress=None if args.json else _progress_printer(),
            )
        finally:
            if cache is not None:
                cache.close()

    metrics = dict(result.metrics) | (judged.metrics if judged else {})
    bounds: dict[str, tuple[float, float]] = {}
    if method is not None and result.stats is not None:
        stats = result.stats.with_means(judged.per_clip) if judged and judged.complete else result.stats
        bounds = intervals(stats, method)
    if args.per_clip:
        per_clip = {
            clip_id: scores | (judged.per_clip.get(clip_id, {}) if judged else {})
            for clip_id, scores in result.per_clip.items()
        }
        args.per_clip.write_text(json.dumps(per_clip, indent=1, sort_keys=True), encoding="utf-8")
    exit_code = EXIT_OK if judged is None or judged.complete else EXIT_JUDGE_INCOMPLETE
    if args.json:
        output = result.to_dict() | {"metrics": metrics}
        # Always a judge object, so a script can tell "not asked" (and why) from a missing key.
        output["judge"] = (
            judged.to_dict()
            if judged is not None
            else {"status": "not_configured", "reason": JUDGE_TURNED_OFF_REASON if args.no_judge else NO_JUDGE_REASON}
        )
        if method is not None:
            output["intervals"] = {
                "method": method.to_dict(),
                "metrics": {name: [low, high] for name, (low, high) in bounds.items()},
            }
        print(json.dumps(output, ensure_ascii=False))
        return exit_code
    print(
        f"Movie101v2 metrics ({result.language}, {result.clips:,} clips"
        + (f", {result.missing_clips:,} missing and scored as empty" if result.missing_clips else "")
        + ")"
    )
    shown = (STAGE_METRICS if judged and judged.complete else ()) + CLASSIC_METRICS
    for name in shown:
        info = metric_info(name)
        line = f"  {info.label:<15} {metrics[name]:.{info.precision}f}"
        if name in bounds:
            low, high = bounds[name]
            line += f"  [{low:.{info.precision}f}, {high:.{info.precision}f}]"
        print(line)
    if method is not None:
        print(
            f"intervals   {method.level:.0%} bootstrap percentile, {method.resamples:,} resamples by {method.unit}, "
            f"seed {method.seed} ({method.version})"
        )
    print(f"references  {result.reference_hash}")
    print("versions    " + ", ".join(f"{key} {value}" for key, value in result.versions.items()))
    print(f"took        {result.duration_seconds:.1f} s (classic)")
    if judged is not None:
        _print_judge(judged, cached=args.judge_cache is not None)
    else:
        print(f"judge       {JUDGE_TURNED_OFF_REASON if args.no_judge else NO_JUDGE_REASON}")
    return exit_code


def _read_templates(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvaluationError(f"cannot read the templates {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise EvaluationError(f"the templates {path} are not JSON: {exc}") from exc
    return templates_from_data(data)


def _progress_printer():
    def show(judged: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rjudged {judged:,}/{total:,} clips", end="" if judged < total else "\n", file=sys.stderr)

    return show


def _print_judge(judged: JudgeResult, *, cached: bool) -> None:
    identity, counts = judged.judge, judged.accounting
    stages = ", ".join(
        f"{stage} {info['template'][7:19]} ({info['parser']})" for stage, info in identity["stages"].items()
    )
    print(f"judge       {identity['model']} at temperature {identity['temperature']:g}; templates {stages}")
    print(
        f"            {counts['calls']:,} calls, {counts['cache_hits']:,} cached, {counts['retries']:,} retries, "
        f"{counts['reasks']:,} re-asked, {counts['prompt_tokens']:,} + {counts['completion_tokens']:,} tokens, "
        f"{judged.duration_seconds:.1f} s"
    )
    if not judged.complete:
        print(
            f"INCOMPLETE  {len(judged.failures):,} judgments failed on {judged.clips - judged.judged_clips:,} clips; "
            "L1 and L2 need every clip. "
            + (
                "Run again to ask only those: the cache keeps the rest."
                if cached
                else "Use --judge-cache FILE so that a second run asks only those."
            ),
            file=sys.stderr,
        )
        if judged.stopped_because:
            print(f"            {judged.stopped_because}", file=sys.stderr)
        for failure in judged.failures[:10]:
            print(f"  - clip {failure.clip_id} {failure.stage}: {failure.reason}", file=sys.stderr)


def _print_report(report: ValidationReport, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    if report.ok:
        note = f", {report.missing_clips:,} missing (allowed)" if report.missing_clips else ""
        print(f"OK: {len(report.predictions):,} narrations for {report.reference_clips:,} reference clips{note}.")
        return
    print(f"The predictions file has {len(report.problems)} problem(s):", file=sys.stderr)
    for problem in report.problems:
        print(f"  - {problem.message}", file=sys.stderr)
    if any(problem.code == "language_mismatch" for problem in report.problems):
        print("  (If the file is in that language, run again with --confirm-language.)", file=sys.stderr)


def _references(args: argparse.Namespace) -> int:
    from .movie101v2 import read_split

    references = read_split(args.data, args.split, args.language)
    text = json.dumps(references, ensure_ascii=False, indent=0, sort_keys=True) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(
            f"wrote {len(references):,} {args.language} references of the {args.split} split to {args.output}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return EXIT_OK
