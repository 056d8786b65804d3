"""The audit log: every question, the answer given, the passages it quoted, staff verdicts and staff logins.

The store is chosen by URL through SQLAlchemy Core: a SQLite file by default
(WAL, one transaction per write, retries on a locked database), or one
PostgreSQL database shared by several app replicas
(``COACH_AUDIT_URL=postgresql+psycopg://user@host/db``). The schema grows
through the numbered migrations of :mod:`coach.auditschema`, recorded in
``schema_version``; the same numbers run on both databases. Every query lives
here. Timestamps are ISO-8601 UTC text that sorts as text (byte order:
``COLLATE "C"`` on PostgreSQL, whatever the server's locale).

Verdicts keep their history: changing a verdict adds a row, and the current
verdict of a turn is its newest row.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from coach.auditrecords import (
    VERDICTS,
    CitationRecord,
    LoginEvent,
    LoginOutcome,
    PurgeReport,
    TurnFilter,
    TurnRecord,
    VerdictKind,
    VerdictRecord,
)
from coach.auditschema import MIGRATIONS, citations, login_events, metadata, schema_version, turns, verdicts
from coach.errors import CoachError
from coach.records import Answer

if TYPE_CHECKING:
    from coach.settings import Settings

__all__ = ["MIGRATIONS", "VERDICTS", "AuditStore", "CitationRecord", "LoginEvent", "PurgeReport", "TurnFilter",
           "TurnRecord", "VerdictKind", "VerdictRecord", "audit_url", "iso", "metadata", "utc_now"]  # fmt: skip

T = TypeVar("T")
BACKENDS = ("sqlite", "postgresql")
MIGRATION_LOCK = 0x636F616368  # pg_advisory_xact_lock key: replicas starting together migrate one at a time


def utc_now() -> str:
    return iso(time.time())


def iso(epoch: float) -> str:
    """The one timestamp format of the store: ISO-8601 UTC with milliseconds (sorts as text)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def audit_url(target: str | Path) -> URL:
    """The SQLAlchemy URL of an audit store: a URL as given (``postgresql://`` means psycopg 3), or a SQLite file."""
    if isinstance(target, Path) or "://" not in target:
        return URL.create("sqlite", database=str(target))
    try:
        url = make_url(target)
    except ArgumentError as exc:
        raise CoachError(f"The audit database URL {target!r} cannot be read.", _URL_HINT) from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in BACKENDS:
        raise CoachError(f"The audit database cannot be {backend}; use one of {', '.join(BACKENDS)}.", _URL_HINT)
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise CoachError(
            "An in-memory audit log would be lost when the app stops.", "Name a file: sqlite:///data/audit.sqlite3"
        )
    return url


_URL_HINT = "Write it like postgresql+psycopg://user:password@host:5432/dbname, or set COACH_AUDIT_DB to a SQLite file."


def _sqlite_connect(dbapi_conn: Any, _record: object) -> None:
    # sqlite3 must not open transactions by itself: _sqlite_begin says how each one begins.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write takes the write lock up front: a deferred transaction that upgrades later can fail
    # with "database is locked" without waiting for the busy timeout.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("audit_write") else "BEGIN")


def _transient(backend: str, exc: DBAPIError) -> bool:
    """A failure that the same transaction, tried again, can get past."""
    if backend == "sqlite":  # another writer holds the lock
        return "locked" in str(exc.orig) or "busy" in str(exc.orig)
    return getattr(exc.orig, "sqlstate", None) in {"40001", "40P01"}  # serialization failure, deadlock


class AuditStore:
    """Thread-safe access to the audit database: a SQLite file (a ``Path`` or a path string) or a URL."""

    def __init__(self, target: str | Path, retries: int = 20) -> None:
        self.url = audit_url(target)
        self.retries = retries
        self.backend = self.url.get_backend_name()
        self.path: Path | None = None
        if self.backend == "sqlite":
            self.path = Path(self.url.database or "")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_engine(self.url, connect_args={"timeout": 30})
            event.listen(self._engine, "connect", _sqlite_connect)
            event.listen(self._engine, "begin", _sqlite_begin)
        else:
            self._engine = create_engine(self.url, pool_pre_ping=True)
        self._writer = self._engine.execution_options(audit_write=True)
        try:
            self.migrate()
        except OperationalError as exc:
            if self.backend == "sqlite":
                raise
            raise CoachError(
                f"The audit database {self.location} cannot be reached ({str(exc.orig).strip().splitlines()[0]}).",
                "Check COACH_AUDIT_URL (host, port, user, password, database) and that the server is running.",
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditStore:
        """The store of a :class:`coach.settings.Settings`: ``audit_url`` if set, else the ``audit_db`` file."""
        return cls(settings.audit_url or settings.audit_db)

    @property
    def location(self) -> str:
        """Where the log is, for messages: the file, or the URL without its password."""
        return str(self.path) if self.path is not None else self.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close the pooled connections (the store opens new ones if used again)."""
        self._engine.dispose()

    def _retry(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction, again after a short wait while the database is busy."""
        delay = 0.02
        for attempt in range(self.retries):
            try:
                with self._writer.begin() as conn:
                    return fn(conn)
            except DBAPIError as exc:
                if not _transient(self.backend, exc) or attempt == self.retries - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    def schema_version(self) -> int:
        with self._engine.connect() as conn:
            if not inspect(conn).has_table("schema_version"):
                return 0
            return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)

    def migrate(self) -> int:
        """Apply every migration not yet applied; returns the resulting version."""

        def run(conn: Connection) -> int:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            schema_version.create(conn, checkfirst=True)
            current = int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)
            for number, migration in enumerate(MIGRATIONS, 1):
                if number > current:
                    migration(conn)
                    conn.execute(insert(schema_version).values(version=number))
            return len(MIGRATIONS)

        return self._retry(run)

    # -- turns -------------------------------------------------------------------

    def record_turn(self, conversation_id: str, turn_number: int, answer: Answer, manifest_id: str) -> int:
        """Store one turn and its citations in a single transaction; returns the turn id."""

        def run(conn: Connection) -> int:
            turn_id = conn.execute(
                insert(turns).values(
                    created_at=utc_now(), conversation_id=conversation_id, turn_number=turn_number,
                    question=answer.question, query=answer.query, answer_text=answer.text,
                    abstained=int(answer.abstained), confidence=answer.confidence, latency_ms=answer.latency_ms,
                    manifest_id=manifest_id, guide=answer.guide, followup=int(answer.followup),
                )
            ).inserted_primary_key[0]  # fmt: skip
            rows = [
                {
                    "turn_id": turn_id, "marker": c.marker, "passage_id": c.passage_id, "source": c.source,
                    "section": " > ".join(c.section), "char_start": c.char_start, "char_end": c.char_end,
                    "passage_sha256": hashlib.sha256(c.text.encode("utf-8")).hexdigest(),
                    "quoted": json.dumps([s.text for s in answer.sentences if s.citation == c.marker], ensure_ascii=False),
                }
                for c in answer.citations
            ]  # fmt: skip
            if rows:
                conn.execute(insert(citations), rows)
            return int(turn_id)

        return self._retry(run)

    def set_feedback(self, turn_id: int, feedback: int | None) -> None:
        """Record thumbs: 1 up, 0 down, None cleared."""
        self._retry(lambda conn: conn.execute(update(turns).where(turns.c.id == turn_id).values(feedback=feedback)))

    def _where(self, flt: TurnFilter) -> list[ColumnElement[bool]]:
        t, c, v = turns.c, citations.c, verdicts.c
        where: list[ColumnElement[bool]] = []
        if flt.since:
            where.append(t.created_at >= flt.since)
        if flt.until:
            where.append(t.created_at < flt.until)
        if flt.text:
            # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite: case-insensitive on both, as SQLite's LIKE was
            where.append(or_(t.question.ilike(_contains(flt.text), escape="\\"),
                             t.answer_text.ilike(_contains(flt.text), escape="\\")))  # fmt: skip
        if flt.abstained_only:
            where.append(t.abstained == 1)
        if flt.max_confidence is not None:
            where.append(t.confidence <= flt.max_confidence)
        if flt.thumbs_down_only:
            where.append(t.feedback == 0)
        if flt.section:
            where.append(exists().where(c.turn_id == t.id, c.section.ilike(_contains(flt.section), escape="\\")))
        if flt.reviewed_only:
            where.append(exists().where(v.turn_id == t.id))
        if flt.unreviewed_only:
            where.append(~exists().where(v.turn_id == t.id))
        return where

    def _complete(self, conn: Connection, rows: Sequence[Any]) -> list[TurnRecord]:
        """Turn rows (mappings) with their citations and current verdict attached."""
        ids = [r["id"] for r in rows]
        cites: dict[int, list[CitationRecord]] = {i: [] for i in ids}
        current: dict[int, VerdictRecord] = {}
        if ids:
            query = select(citations).where(citations.c.turn_id.in_(ids)).order_by(citations.c.marker)
            for c in conn.execute(query).mappings():
                cites[c["turn_id"]].append(CitationRecord.model_validate({**c, "quoted": json.loads(c["quoted"])}))
            for v in conn.execute(select(verdicts).where(verdicts.c.turn_id.in_(ids), _current_verdict())).mappings():
                current[v["turn_id"]] = VerdictRecord.model_validate(dict(v))
        return [
            TurnRecord.model_validate(
                {**r, "abstained": bool(r["abstained"]), "citations": cites[r["id"]], "verdict": current.get(r["id"])}
            )
            for r in rows
        ]

    def iter_turns(self, flt: TurnFilter | None = None, batch: int = 500) -> Iterator[TurnRecord]:
        """Every turn matching ``flt`` (up to ``flt.limit``), newest first, read in batches.

        Keyset pagination on the id: memory stays flat however many turns match,
        turns written meanwhile never shift or repeat a page, and no connection
        or transaction is held open while the caller writes a page out.
        """
        flt = flt or TurnFilter()
        where = self._where(flt)
        remaining = flt.limit
        before: int | None = None
        while remaining is None or remaining > 0:
            size = batch if remaining is None else min(batch, remaining)
            page = select(turns).where(*where).order_by(turns.c.id.desc()).limit(size)
            if before is not None:
                page = page.where(turns.c.id < before)
            with self._engine.connect() as conn:
                records = self._complete(conn, conn.execute(page).mappings().all())
            yield from records
            if len(records) < size:
                return
            before = records[-1].id
            if remaining is not None:
                remaining -= len(records)

    def turns(self, flt: TurnFilter | None = None) -> list[TurnRecord]:
        """Turns matching ``flt``, newest first (at most ``flt.limit``)."""
        return list(self.iter_turns(flt))

    def turn(self, turn_id: int) -> TurnRecord | None:
        with self._engine.connect() as conn:
            rows = conn.execute(select(turns).where(turns.c.id == turn_id)).mappings().all()
            return next(iter(self._complete(conn, rows)), None)

    def conversation(self, conversation_id: str) -> list[TurnRecord]:
        """The turns of one conversation, in the order they were asked."""
        query = (
            select(turns).where(turns.c.conversation_id == conversation_id).order_by(turns.c.turn_number, turns.c.id)
        )
        with self._engine.connect() as conn:
            return self._complete(conn, conn.execute(query).mappings().all())

    def reviewed_conversations(self) -> list[str]:
        """Ids of conversations with at least one verdict, oldest first."""
        t = turns.c
        query = (
            select(t.conversation_id)
            .where(exists().where(verdicts.c.turn_id == t.id))
            .group_by(t.conversation_id)
            .order_by(func.min(t.id))
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def citation_counts(self) -> dict[str, int]:
        """``{passage_id: times cited}``."""
        query = select(citations.c.passage_id, func.count()).group_by(citations.c.passage_id)
        with self._engine.connect() as conn:
            return {passage: int(n) for passage, n in conn.execute(query)}

    def count(self) -> tuple[int, int]:
        """(turns, citations) stored."""
        with self._engine.connect() as conn:
            t = conn.execute(select(func.count()).select_from(turns)).scalar()
            c = conn.execute(select(func.count()).select_from(citations)).scalar()
            return int(t or 0), int(c or 0)

    # -- verdicts ----------------------------------------------------------------

    def record_verdict(
        self, turn_id: int, verdict: VerdictKind, reviewer: str, sentence: str | None = None, note: str = ""
    ) -> VerdictRecord:
        """Add a verdict for a turn (the newest one counts); the rules are checked in :mod:`coach.review`."""

        def run(conn: Connection) -> VerdictRecord:
            if conn.execute(select(turns.c.id).where(turns.c.id == turn_id)).first() is None:
                raise CoachError(
                    f"There is no turn {turn_id} in {self.location}.", "It may have been purged; reload the list."
                )
            values = {"turn_id": turn_id, "created_at": utc_now(), "reviewer": reviewer, "verdict": verdict,
                      "sentence": sentence, "note": note}  # fmt: skip
            new_id = conn.execute(insert(verdicts).values(**values)).inserted_primary_key[0]
            return VerdictRecord(id=int(new_id), **values)

        return self._retry(run)

    def verdict_history(self, turn_id: int) -> list[VerdictRecord]:
        """Every verdict given to a turn, oldest first (the last one is current)."""
        query = select(verdicts).where(verdicts.c.turn_id == turn_id).order_by(verdicts.c.id)
        with self._engine.connect() as conn:
            return [VerdictRecord.model_validate(dict(r)) for r in conn.execute(query).mappings()]

    def verdict_counts(self) -> dict[str, int]:
        """``{verdict: turns whose current verdict it is}``."""
        query = select(verdicts.c.verdict, func.count()).where(_current_verdict()).group_by(verdicts.c.verdict)
        with self._engine.connect() as conn:
            return {kind: int(n) for kind, n in conn.execute(query)}

    # -- staff logins ------------------------------------------------------------

    def record_login(
        self, outcome: LoginOutcome, session_key: str, staff_name: str = "", client: str = "", at: float | None = None
    ) -> None:
        row = {"created_at": iso(at if at is not None else time.time()), "outcome": outcome,
               "session_key": session_key, "staff_name": staff_name, "client": client}  # fmt: skip
        self._retry(lambda conn: conn.execute(insert(login_events).values(**row)))

    def login_failures(self, since: float, session_key: str | None = None) -> list[str]:
        """Times of failed logins since ``since`` (epoch seconds), oldest first.

        With ``session_key``: only that session's failures after its last
        successful login.
        """
        e = login_events.c
        query = select(e.created_at).where(e.outcome == "failed", e.created_at >= iso(since))
        if session_key is not None:
            ok = login_events.alias("ok")
            last_ok = select(func.max(ok.c.created_at)).where(ok.c.session_key == session_key, ok.c.outcome == "ok")
            query = query.where(
                e.session_key == session_key, e.created_at > func.coalesce(last_ok.scalar_subquery(), "")
            )
        with self._engine.connect() as conn:
            return list(conn.execute(query.order_by(e.created_at)).scalars())

    def login_events(self, limit: int = 200) -> list[LoginEvent]:
        """The latest staff login events, newest first."""
        query = select(login_events).order_by(login_events.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [LoginEvent.model_validate(dict(r)) for r in conn.execute(query).mappings()]

    # -- retention ---------------------------------------------------------------

    def purge(self, before: str, dry_run: bool = False) -> PurgeReport:
        """Delete every conversation that began before ``before`` (ISO time), and older login events.

        Whole conversations go, so a follow-up is never kept without the turns
        it leans on; its verdicts and citations go with it.
        """
        # Aliases keep the subqueries from correlating with the table a DELETE removes rows from.
        first = turns.alias("first")
        old = (
            select(first.c.conversation_id)
            .group_by(first.c.conversation_id)
            .having(func.min(first.c.created_at) < before)
        )
        member = turns.alias("member")
        old_turns = select(member.c.id).where(member.c.conversation_id.in_(old))
        old_logins = login_events.c.created_at < before

        def run(conn: Connection) -> PurgeReport:
            def n(query: Any) -> int:
                return int(conn.execute(query).scalar() or 0)

            report = PurgeReport(
                conversations=n(select(func.count()).select_from(old.subquery())),
                turns=n(select(func.count()).select_from(old_turns.subquery())),
                verdicts=n(select(func.count()).select_from(verdicts).where(verdicts.c.turn_id.in_(old_turns))),
                login_events=n(select(func.count()).select_from(login_events).where(old_logins)),
            )
            if not dry_run:
                conn.execute(delete(verdicts).where(verdicts.c.turn_id.in_(old_turns)))
                conn.execute(delete(citations).where(citations.c.turn_id.in_(old_turns)))
                conn.execute(delete(turns).where(turns.c.conversation_id.in_(old)))
                conn.execute(delete(login_events).where(old_logins))
            return report

        report = self._retry(run)
        if not dry_run and (report.turns or report.login_events):
            self._compact()
        return report

    def _compact(self) -> None:
        """Rewrite storage so deleted rows are gone from disk, not just unlinked (retention).

        SQLite: VACUUM rewrites the file and the WAL is truncated. PostgreSQL:
        VACUUM prunes the dead rows (without VACUUM FULL's lock, which would
        stop every replica's writes); backups and WAL archives follow the
        server's own retention.
        """
        if self.backend == "sqlite":
            raw = self._engine.raw_connection()  # outside any transaction: VACUUM cannot run inside one
            try:
                cur = raw.cursor()
                cur.execute("VACUUM")
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cur.close()
            finally:
                raw.close()
        else:
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM turns, citations, verdicts, login_events")


def _contains(needle: str) -> str:
    """A LIKE pattern matching ``needle`` anywhere, its ``%``, ``_`` and ``\\`` taken literally."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _current_verdict() -> ColumnElement[bool]:
    """True for the newest verdict row of its turn."""
    newer = verdicts.alias("newer")
    newest = select(func.max(newer.c.id)).where(newer.c.turn_id == verdicts.c.turn_id).scalar_subquery()
    return verdicts.c.id == newest
