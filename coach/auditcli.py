"""``python -m coach audit ...`` and ``hash-password``: staff review, exports, retention and checks from a terminal.

Registered on the main parser by :mod:`coach.cli`. Nothing is written when an
input is wrong: each command checks everything first, then writes once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coach.errors import CoachError

NO_DB_HINT = (
    "Set COACH_AUDIT_DB (or --db) to the app's audit database, or COACH_AUDIT_URL to a shared one;"
    " the app writes data/audit.sqlite3 by default."
)


def _settings(args: argparse.Namespace):  # noqa: ANN202
    from coach.settings import Settings

    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index)
    if args.db is None:
        return settings
    # --db names the store outright: a file, or a URL (postgresql+psycopg://...); it wins over COACH_AUDIT_URL.
    if "://" in args.db:
        return settings.model_copy(update={"audit_url": args.db})
    return settings.model_copy(update={"audit_db": Path(args.db), "audit_url": None})


def _store(args: argparse.Namespace):  # noqa: ANN202
    """The existing audit store (an audit command never creates an empty one)."""
    from coach.audit import AuditStore

    settings = _settings(args)
    if settings.audit_url is None and not settings.audit_db.is_file():
        raise CoachError(f"There is no audit log at {settings.audit_db}.", NO_DB_HINT)
    return AuditStore.from_settings(settings)


def _write(lines: Iterable[str]) -> int:
    """Stream ``lines`` to stdout; a reader that stops early (``| head``) is not an error."""
    n = 0
    try:
        for line in lines:
            sys.stdout.write(line)
            n += 1
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return n


def _day(text: str | None, flag: str) -> str | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError as exc:
        raise CoachError(f"{flag} {text!r} is not a date.", f"Write it as YYYY-MM-DD, e.g. {flag} 2026-01-31.") from exc


def cmd_verdict(args: argparse.Namespace) -> int:
    from coach.review import check_verdict

    store = _store(args)
    turn = store.turn(args.turn_id)
    if turn is None:
        raise CoachError(
            f"There is no turn {args.turn_id} in {store.location}.",
            "List turn ids with: python -m coach audit export --format jsonl",
        )
    passages = None
    if args.sentence and args.sentence.strip():
        passages = _current_passages(args)
    verdict, sentence = check_verdict(turn, args.verdict, args.sentence, passages)
    before = turn.verdict.verdict if turn.verdict else None
    reviewer = args.reviewer or os.environ.get("COACH_REVIEWER") or _user()
    store.record_verdict(turn.id, verdict, reviewer, sentence, (args.note or "").strip())
    change = f" (was {before})" if before else ""
    print(
        f"Turn {turn.id}: {verdict}{change}, recorded for {reviewer}."
        + (f" Right sentence: {sentence}" if sentence else "")
    )
    return 0


def _current_passages(args: argparse.Namespace) -> list:  # noqa: ANN202
    """The passages of the index build the coach serves now (the app serves it until a new build is ready)."""
    from coach.cli import _quiet_libraries

    _quiet_libraries()
    from coach.index import load_index
    from coach.service import SentenceTransformerEmbedder

    settings = _settings(args)
    return load_index(settings, SentenceTransformerEmbedder(settings.model_path).model_id, check=False).passages


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def cmd_export(args: argparse.Namespace) -> int:
    from coach.audit import TurnFilter
    from coach.export import csv_lines, jsonl_lines

    store = _store(args)
    flt = TurnFilter(
        since=_day(args.since, "--since"),
        until=(datetime.fromisoformat(_day(args.until, "--until")) + timedelta(days=1)).date().isoformat()
        if args.until
        else None,
        reviewed_only=args.reviewed,
        limit=None,
    )
    ids: list[int] = []

    def turns():  # noqa: ANN202
        for t in store.iter_turns(flt):
            ids.append(t.id)
            yield t

    _write((csv_lines if args.format == "csv" else jsonl_lines)(turns()))
    span = f" (turn ids {min(ids)}-{max(ids)})" if ids else ""
    print(f"Exported {len(ids)} turn(s){span} as {args.format}.", file=sys.stderr)
    return 0


def cmd_export_eval(args: argparse.Namespace) -> int:
    from coach.review import ExportSummary, export_eval_lines

    store = _store(args)
    summary = ExportSummary()
    _write(export_eval_lines(store, summary))
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(summary.reviewed.items()))
    print(
        f"Exported {summary.conversations} conversation(s): {sum(summary.reviewed.values())} reviewed turn(s) ({kinds}) "
        f"and {summary.context_turns} earlier turn(s) for context. On the index that answered them, "
        f"eval scores {summary.expected_hits} of {summary.turns} turns right.",
        file=sys.stderr,
    )
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from coach.audit import iso

    if args.older_than < 0:
        raise CoachError(f"--older-than {args.older_than} is negative.", "Give the number of days to keep, e.g. 90.")
    store = _store(args)
    cutoff = iso((datetime.now(UTC) - timedelta(days=args.older_than)).timestamp())
    report = store.purge(cutoff, dry_run=args.dry_run)
    verb = "Would delete" if args.dry_run else "Deleted"
    print(
        f"{verb} {report.conversations} conversation(s) begun before {cutoff[:19]}Z: {report.turns} turn(s), "
        f"{report.verdicts} verdict(s); and {report.login_events} staff login record(s)."
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from coach.audit import TurnFilter
    from coach.verify import LABELS, Verifier

    store = _store(args)
    settings = _settings(args)
    verifier = Verifier(settings.index_dir, settings.corpus_dir)
    by_status: Counter[str] = Counter()
    turns = 0
    for turn in store.iter_turns(TurnFilter(limit=None)):
        turns += 1
        check = verifier.check(turn)
        for c in check.citations:
            by_status[c.status] += 1
        if args.json:
            print(check.model_dump_json())
        elif check.status != "verified":
            for c in check.citations:
                if c.status != "verified":
                    print(f"turn {turn.id} [{c.marker}] {LABELS[c.status]}: {c.detail}")
    summary = ", ".join(f"{by_status[s]} {LABELS[s]}" for s in ("verified", "edited", "gone", "mismatch"))
    print(f"Checked {sum(by_status.values())} citation(s) in {turns} turn(s): {summary}.", file=sys.stderr)
    if by_status["mismatch"]:
        print(
            f"error: {by_status['mismatch']} citation(s) do not match the index build they came from. "
            "The audit log or the kept build was altered; keep both files for inspection.",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from coach.staffauth import MIN_PASSWORD_CHARS, hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Staff password: ")
        if getpass.getpass("Once more: ") != password:
            raise CoachError("The two passwords differ.", "Run the command again.")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_CHARS:
        raise CoachError(
            f"The password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}.",
            "A few random words make a good one.",
        )
    print(hash_password(password))
    print(
        "Set it as COACH_STAFF_PASSWORD_HASH (in single quotes: it contains $), "
        "or as staff_password_hash in .streamlit/secrets.toml.",
        file=sys.stderr,
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``audit`` command group and ``hash-password``."""
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--db",
        default=None,
        help="audit database: a SQLite file or a URL (default $COACH_AUDIT_URL, $COACH_AUDIT_DB or data/audit.sqlite3)",
    )
    audit = sub.add_parser("audit", help="staff review, exports, retention and citation checks on the audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    from coach.audit import VERDICTS

    p = asub.add_parser("verdict", parents=[common, db], help="record (or change) the verdict on one turn")
    p.add_argument("turn_id", type=int, metavar="TURN_ID")
    p.add_argument("verdict", choices=VERDICTS)
    p.add_argument("--sentence", default=None, help="the guide sentence it should have quoted (wrong, should-answer)")
    p.add_argument("--note", default=None, help="a short note for other reviewers")
    p.add_argument("--reviewer", default=None, help="who gives the verdict (default $COACH_REVIEWER or your user name)")
    p.set_defaults(func=cmd_verdict)

    p = asub.add_parser("export", parents=[common, db], help="every turn as CSV or JSON Lines on stdout")
    p.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    p.add_argument("--since", default=None, metavar="YYYY-MM-DD", help="turns from this day on")
    p.add_argument("--until", default=None, metavar="YYYY-MM-DD", help="turns up to and including this day")
    p.add_argument("--reviewed", action="store_true", help="only turns with a verdict")
    p.set_defaults(func=cmd_export)

    p = asub.add_parser(
        "export-eval", parents=[common, db], help="reviewed turns as an eval file (for coach eval/train)"
    )
    p.set_defaults(func=cmd_export_eval)

    p = asub.add_parser("purge", parents=[common, db], help="delete conversations older than a number of days")
    p.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.set_defaults(func=cmd_purge)

    p = asub.add_parser("verify", parents=[common, db], help="re-check every stored quote; exit 1 on a mismatch")
    p.add_argument("--json", action="store_true", help="one JSON line per turn")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("hash-password", help="print an scrypt hash for COACH_STAFF_PASSWORD_HASH")
    p.set_defaults(func=cmd_hash_password)
