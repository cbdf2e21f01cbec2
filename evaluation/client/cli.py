"""``movie101v2``: log in, list phases, validate offline, submit and follow the scoring, show a submission.

Every command takes ``--json`` (one JSON object on stdout, errors included) and ``--server``. The exit
status says what happened (:mod:`.exits`): 0 done, 2 an invalid file, 3 a refusal, 4 a failed scoring,
1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..metrics import CLASSIC_METRICS, STAGE_METRICS, metric_info
from ..predictions import validate
from . import config, exits
from .api import Api, ApiError, NetworkError
from .progress import Progress

FINAL = ("finished", "failed", "cancelled")
LANGUAGES = ("zh", "en")


class ClientError(Exception):
    """A problem the client reports and exits on; ``exit_code`` from :mod:`.exits`."""

    def __init__(self, message: str, exit_code: int = exits.ERROR, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.details = details or {}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", help="the service's address (default: MOVIE101V2_SERVER, then `login`'s)")
    common.add_argument("--json", action="store_true", help="print one JSON object for scripts")

    parser = argparse.ArgumentParser(
        prog="movie101v2",
        description="Validate, submit and follow Movie101v2 leaderboard submissions. Exit status: 0 done, "
        "2 invalid file, 3 refused (limit, window, throttled, near-duplicate), 4 scoring failed, 1 other errors.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    login = commands.add_parser("login", parents=[common], help="check and store a server and API token")
    login.add_argument("--token", required=True, help="your API token (the site's API token page)")

    phases = commands.add_parser("phases", parents=[common], help="the phases, their windows, what is left today")
    phases.add_argument("challenge", nargs="?", help="one challenge's slug (default: all)")

    def phase_file(command: argparse.ArgumentParser) -> None:
        command.add_argument("phase", metavar="CHALLENGE/PHASE", help="e.g. movie101v2/val")
        command.add_argument("--language", required=True, choices=LANGUAGES)
        command.add_argument("file", type=Path, help="the predictions: JSON or JSON Lines")
        command.add_argument(
            "--confirm-language",
            action="store_true",
            help="the file is in --language although its script looks like the other language's",
        )

    check = commands.add_parser("validate", parents=[common], help="check a file offline against the clip list")
    phase_file(check)

    submit = commands.add_parser("submit", parents=[common], help="upload a file and follow its scoring")
    phase_file(submit)
    submit.add_argument("--method-name", default="")
    submit.add_argument("--method-description", default="")
    submit.add_argument("--paper-url", default="")
    submit.add_argument("--code-url", default="")
    # The method tags readers filter the boards by; left out, the board says "not said".
    for flag, what in (
        ("character-info", "the method uses the character names the benchmark gives"),
        ("external-data", "the method was trained on data other than the benchmark's"),
    ):
        tag = submit.add_mutually_exclusive_group()
        tag.add_argument(f"--{flag}", dest=flag.replace("-", "_"), action="store_const", const=True, help=what)
        tag.add_argument(f"--no-{flag}", dest=flag.replace("-", "_"), action="store_const", const=False)
    submit.add_argument("--model-size", default="", help='e.g. "7B" (shown on the board)')
    submit.add_argument("--public", action="store_true", help="show it on the public boards")
    submit.add_argument("--no-wait", action="store_true", help="upload and exit without following the scoring")
    submit.add_argument("--no-judge-wait", action="store_true", help="stop once the classic metrics are in")
    submit.add_argument("--poll", type=float, default=2.0, metavar="SECONDS", help="between two looks (2)")
    submit.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting after this long")

    for name, text in (("status", "a submission's status"), ("scores", "a submission's scores and board places")):
        shown = commands.add_parser(name, parents=[common], help=text)
        shown.add_argument("id", type=int, help="the submission's id")
    return parser


#: After a language_mismatch problem: how to confirm the language from here.
CONFIRM_HINT = "  (If the file is in the language you chose, run the command again with --confirm-language.)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ClientError as exc:
        return _fail(args, str(exc), exc.exit_code, exc.details)
    except ApiError as exc:
        return _fail(args, _api_message(exc), _api_exit(exc), {"http": exc.to_dict()})
    except (NetworkError, config.ConfigError) as exc:
        return _fail(args, str(exc), exits.ERROR)
    except KeyboardInterrupt:
        return _fail(args, "Interrupted.", exits.INTERRUPTED)


# -- commands -------------------------------------------------------------------------


def login(args: argparse.Namespace) -> int:
    server = config.settings(args.server).server
    api = Api(server, args.token)
    try:
        api.get("/submissions/?limit=1")  # a token-only endpoint: checks the address and the token
    except ApiError as exc:
        if exc.status == 401:
            raise ClientError(f"{server} refused the token: {exc.detail}") from None
        raise
    path = config.store(server, args.token)
    _emit(args, {"server": server, "config": str(path)}, f"Logged in to {server}; token stored in {path} (mode 0600).")
    return exits.OK


def phases(args: argparse.Namespace) -> int:
    api = _api(args)
    challenges = [api.get(f"/challenges/{quote(args.challenge)}/")] if args.challenge else api.get("/challenges/")
    listed = []
    lines = []
    for challenge in challenges:
        lines.append(f"{challenge['slug']}  {challenge['title']}")
        phases = []
        for phase in challenge["phases"]:
            quota = None
            if api.token:
                quota = api.get(f"/challenges/{challenge['slug']}/phases/{phase['slug']}/quota/")
            phases.append(
                {
                    key: phase[key]
                    for key in ("slug", "title", "state", "starts_at", "ends_at", "references_public", "languages")
                }
                | {"boards": [board["key"] for board in phase["boards"]], "quota": quota}
            )
            window = f"{_when(phase['starts_at'])} to {_when(phase['ends_at'])}"
            left = "(log in to see your limits)"
            if quota is not None:
                left = (quota["summary"] or "") if quota["can_submit"] else f"cannot submit: {quota['reason']}"
            lines.append(
                f"  {challenge['slug']}/{phase['slug']}  {phase['title']}  [{phase['state']}]  {window}  "
                f"{', '.join(phase['languages'])}"
            )
            lines.append(f"      {left}")
        listed.append({"slug": challenge["slug"], "title": challenge["title"], "phases": phases})
    _emit(args, {"challenges": listed}, "\n".join(lines) if lines else "No challenges.")
    return exits.OK


def validate_file(args: argparse.Namespace) -> int:
    challenge, phase = _phase_path(args.phase)
    data = _read(args.file)
    clips = _api(args, token=False).get(f"/challenges/{challenge}/phases/{phase}/clips/{args.language}/")
    # The server's own validator, with the upload's settings, on the clip ids alone.
    # The language is checked here as on upload; it is the upload's choice, not one of the phase's settings.
    report = validate(
        data,
        clips["clips"],
        filename=args.file.name,
        language=args.language,
        confirm_language=args.confirm_language,
        **clips["validation"],
    )
    output = report.to_dict() | {
        "challenge": challenge,
        "phase": phase,
        "language": args.language,
        "reference_hash": clips["reference_hash"],
    }
    if args.json:
        print(json.dumps(output, ensure_ascii=False))
    elif report.ok:
        note = f", {report.missing_clips:,} missing (allowed)" if report.missing_clips else ""
        print(
            f"OK: {len(report.predictions):,} narrations for the {clips['count']:,} clips of "
            f"{challenge}/{phase} ({args.language}){note}."
        )
    else:
        print(f"{args.file} has {len(report.problems)} problem(s):", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem.message}", file=sys.stderr)
        if any(problem.code == "language_mismatch" for problem in report.problems):
            print(CONFIRM_HINT, file=sys.stderr)
    return exits.OK if report.ok else exits.INVALID


def submit(args: argparse.Namespace) -> int:
    challenge, phase = _phase_path(args.phase)
    api = _api(args)
    data = _read(args.file)
    fields = {
        "language": args.language,
        "method_name": args.method_name,
        "method_description": args.method_description,
        "paper_url": args.paper_url,
        "code_url": args.code_url,
        "public": "true" if args.public else "false",
        "confirm_language": "true" if args.confirm_language else "false",
        "model_size": args.model_size,
    }
    for field, value in (("uses_character_info", args.character_info), ("external_data", args.external_data)):
        if value is not None:
            fields[field] = "true" if value else "false"
    created = api.post_multipart(
        f"/challenges/{challenge}/phases/{phase}/submissions/", fields, {"predictions": (args.file.name, data)}
    )
    submission_id = created["id"]
    if args.no_wait:
        _emit(args, created, f"Submitted: #{submission_id}. Follow it with `movie101v2 status {submission_id}`.")
        return exits.OK
    if not args.json:
        print(f"Submitted: #{submission_id}.", file=sys.stderr)
    submission = wait(api, submission_id, args)
    return _show(args, api, submission, places=submission["status"] == "finished")


def status(args: argparse.Namespace) -> int:
    api = _api(args)
    return _show(args, api, api.get(f"/submissions/{args.id}/"), places=False)


def scores(args: argparse.Namespace) -> int:
    api = _api(args)
    return _show(args, api, api.get(f"/submissions/{args.id}/"), places=True)


COMMANDS = {
    "login": login,
    "phases": phases,
    "validate": validate_file,
    "submit": submit,
    "status": status,
    "scores": scores,
}


# -- following a submission -----------------------------------------------------------


def wait(api: Api, submission_id: int, args: argparse.Namespace) -> dict[str, Any]:
    """Look at the submission until it is scored (and judged, unless ``--no-judge-wait``) or failed."""
    progress = Progress(enabled=not args.json)
    deadline = time.monotonic() + args.timeout if args.timeout else None
    classic_shown = False
    try:
        while True:
            submission = api.get(f"/submissions/{submission_id}/")
            state = submission["status"]
            if state == "submitted":
                position = submission.get("queue_position")
                progress.show(f"#{submission_id} waiting" + (f", position {position} in the queue" if position else ""))
            elif state == "running":
                progress.show(f"#{submission_id} scoring the classic metrics")
            elif state == "finished":
                if not classic_shown:
                    progress.close()
                    if not args.json:
                        print(_metric_line(submission["scores"], CLASSIC_METRICS), file=sys.stderr)
                    classic_shown = True
                judge = submission.get("judge")
                if args.no_judge_wait or judge is None or judge.get("done"):
                    return submission
                label = f"#{submission_id} judge ({judge['status']}): clips judged"
                progress.show(label, judge["judged_clips"], judge["total_clips"])
            else:
                return submission
            if deadline is not None and time.monotonic() > deadline:
                raise ClientError(
                    f"Submission #{submission_id} is still {state} after {args.timeout:g} s; "
                    f"follow it with `movie101v2 status {submission_id}`.",
                    details={"id": submission_id, "status": state},
                )
            time.sleep(args.poll)
    finally:
        progress.close()


def board_places(api: Api, submission: dict[str, Any]) -> list[dict[str, Any]]:
    """The submission's row on each board of its phase and language that the viewer may see."""
    challenge, phase, language = submission["challenge"], submission["phase"], submission["language"]
    detail = api.get(f"/challenges/{challenge}/")
    keys = next((p for p in detail["phases"] if p["slug"] == phase), {"boards": []})["boards"]
    places = []
    for board in keys:
        try:
            document = api.get(f"/challenges/{challenge}/phases/{phase}/leaderboards/{language}/{board['key']}/")
        except ApiError as exc:
            if exc.status != 404:
                raise
            places.append({"board": board["key"], "title": board["title"], "visible": False, "rank": None})
            continue
        rows = document["rows"]
        row = next((row for row in rows if row["submission_id"] == submission["id"]), None)
        ranked = [other for other in rows if other["rank"] is not None]
        place: dict[str, Any] = {
            "board": board["key"],
            "title": document["title"],
            "visible": True,
            "rank": row["rank"] if row else None,
            "ranked_entries": len(ranked),
            "tied": bool(
                row
                and row["tie_group"] is not None
                and sum(other["tie_group"] == row["tie_group"] for other in ranked) > 1
            ),
            "primary_metric": document["primary_metric"],
        }
        places.append(place)
    return places


# -- output ---------------------------------------------------------------------------------


def _show(args: argparse.Namespace, api: Api, submission: dict[str, Any], *, places: bool) -> int:
    found = board_places(api, submission) if places and submission["status"] == "finished" else None
    code = exits.FAILED if submission["status"] in ("failed", "cancelled") else exits.OK
    if args.json:
        print(json.dumps(submission | ({"board_places": found} if found is not None else {}), ensure_ascii=False))
        return code
    lines = [
        f"Submission #{submission['id']}  {submission['challenge']}/{submission['phase']} ({submission['language']})"
        f"  {submission['method_name'] or '(no method name)'}",
        f"status      {submission['status']} ({submission['status_display']})",
    ]
    if submission.get("queue_position"):
        lines.append(f"queue       position {submission['queue_position']}")
    if submission.get("error"):
        lines.append(f"error       {submission['error']}")
    judge = submission.get("judge")
    if judge:
        lines.append(
            f"judge       {judge['status_display']}: {judge['judged_clips']:,}/{judge['total_clips']:,} clips judged"
            + (f" ({judge['reason']})" if judge.get("reason") else "")
        )
    result = submission.get("result") or {}
    intervals = result.get("intervals") or {}
    if submission.get("scores"):
        lines.append("scores      (95% interval)")
        shown = [name for name in (*STAGE_METRICS, *CLASSIC_METRICS) if name in submission["scores"]]
        shown += sorted(set(submission["scores"]) - set(shown))
        for name in shown:
            info = metric_info(name)
            line = f"  {info.label:<15} {submission['scores'][name]:.{info.precision}f}"
            if name in intervals:
                low, high = intervals[name]
                line += f"  [{low:.{info.precision}f}, {high:.{info.precision}f}]"
            lines.append(line)
    if result.get("reference_hash"):
        lines.append(f"references  {result['reference_hash']}")
    for place in found or ():
        if not place["visible"]:
            lines.append(f"board {place['board']:<5} not shown to you")
        elif place["rank"] is None:
            lines.append(f"board {place['board']:<5} not on the board (private, or not the team's entry shown)")
        else:
            tie = "=" if place["tied"] else ""
            lines.append(f"board {place['board']:<5} rank {tie}{place['rank']} of {place['ranked_entries']}")
    print("\n".join(lines))
    return code


def _metric_line(scores: dict[str, float], names: tuple[str, ...]) -> str:
    parts = []
    for name in names:
        if name in scores:
            info = metric_info(name)
            parts.append(f"{info.label} {scores[name]:.{info.precision}f}")
    return "classic metrics: " + ", ".join(parts)


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, ensure_ascii=False) if args.json else text)


def _fail(args: argparse.Namespace, message: str, code: int, details: dict[str, Any] | None = None) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": message, "exit_code": code, **(details or {})}, ensure_ascii=False))
    else:
        print(f"error: {message}", file=sys.stderr)
    return code


def _api_message(exc: ApiError) -> str:
    message = exc.detail
    for problem in exc.errors:
        where = f"{problem['field']}: " if problem.get("field") else ""
        message += f"\n  - {where}{problem.get('message', '')}"
    if any(problem.get("code") == "language_mismatch" for problem in exc.errors):
        message += f"\n{CONFIRM_HINT}"
    if exc.retry_after:
        message += f"\n  (try again in {exc.retry_after} s)"
    return message


def _api_exit(exc: ApiError) -> int:
    if exc.status == 400 and exc.code in ("invalid_predictions", "invalid_fields"):
        return exits.INVALID
    if exc.status in (403, 429) and exc.code:
        return exits.REFUSED
    return exits.ERROR


def _api(args: argparse.Namespace, *, token: bool = True) -> Api:
    settings = config.settings(args.server)
    return Api(settings.server, settings.token if token else None)


def _phase_path(text: str) -> tuple[str, str]:
    challenge, _, phase = text.partition("/")
    if not challenge or not phase or "/" in phase:
        raise ClientError(f"Name the phase as CHALLENGE/PHASE (e.g. movie101v2/val), not {text!r}.")
    return quote(challenge, safe=""), quote(phase, safe="")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ClientError(f"Cannot read {path}: {exc.strerror}") from None


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:16] + " UTC" if value else "open-ended"
