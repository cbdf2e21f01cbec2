"""``python -m evaluation``: validate and score narrations offline, as the server does."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .classic import LANGUAGES, score
from .errors import EvaluationError
from .metrics import CLASSIC_METRICS, metric_info
from .predictions import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_NARRATION_CHARS, ValidationReport, validate
from .references import load_references

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2


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
        command.add_argument("--allow-partial", action="store_true",
                             help="score missing clips as empty narrations instead of refusing the file")
        command.add_argument("--max-narration-chars", type=int, default=DEFAULT_MAX_NARRATION_CHARS,
                             help="the server's length cap per narration (default %(default)s)")
        command.add_argument("--json", action="store_true", help="print one JSON object and nothing else")

    score_command = commands.add_parser("score", help="compute the classic metrics")
    add_file_arguments(score_command)
    score_command.add_argument("--language", required=True, choices=LANGUAGES)
    score_command.add_argument("--per-clip", type=Path, metavar="FILE",
                               help="also write every clip's scores to FILE as JSON")

    validate_command = commands.add_parser("validate", help="check a predictions file the way the upload does")
    add_file_arguments(validate_command)

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
    )
    if args.command == "validate" or not report.ok:
        _print_report(report, as_json=args.json)
        return EXIT_OK if report.ok else EXIT_INVALID

    result = score(references, report.predictions, args.language, allow_partial=args.allow_partial)
    if args.per_clip:
        args.per_clip.write_text(json.dumps(result.per_clip, indent=1, sort_keys=True), encoding="utf-8")
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return EXIT_OK
    print(f"Movie101v2 classic metrics ({result.language}, {result.clips:,} clips"
          + (f", {result.missing_clips:,} missing and scored as empty" if result.missing_clips else "") + ")")
    for name in CLASSIC_METRICS:
        info = metric_info(name)
        print(f"  {info.label:<9} {result.metrics[name]:.{info.precision}f}")
    print(f"references  {result.reference_hash}")
    print("versions    " + ", ".join(f"{key} {value}" for key, value in result.versions.items()))
    print(f"took        {result.duration_seconds:.1f} s")
    return EXIT_OK


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


def _references(args: argparse.Namespace) -> int:
    from .movie101v2 import read_split

    references = read_split(args.data, args.split, args.language)
    text = json.dumps(references, ensure_ascii=False, indent=0, sort_keys=True) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(references):,} {args.language} references of the {args.split} split to {args.output}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK
