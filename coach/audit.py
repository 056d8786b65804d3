"""The audit log: every question, the answer given and the passages it quoted.

SQLite by default (WAL, one transaction per turn, retries on a locked
database). The schema grows through numbered migrations recorded in
``schema_version``; all SQL lives in this module, so another SQL database can
replace SQLite behind the same methods.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from coach.records import Answer

T = TypeVar("T")

MIGRATIONS: list[str] = [
    # 1: turns and their citations
    """
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        turn_number INTEGER NOT NULL,
        question TEXT NOT NULL,
        query TEXT NOT NULL,
        answer_text TEXT NOT NULL,
        abstained INTEGER NOT NULL,
        confidence REAL NOT NULL,
        latency_ms REAL NOT NULL,
        manifest_id TEXT NOT NULL,
        feedback INTEGER
    );
    CREATE TABLE citations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        marker INTEGER NOT NULL,
        passage_id TEXT NOT NULL,
        source TEXT NOT NULL,
        section TEXT NOT NULL,
        char_start INTEGER NOT NULL,
        char_end INTEGER NOT NULL,
        passage_sha256 TEXT NOT NULL,
        quoted TEXT NOT NULL
    );
    CREATE INDEX idx_turns_created ON turns(created_at);
    CREATE INDEX idx_citations_turn ON citations(turn_id);
    CREATE INDEX idx_citations_passage ON citations(passage_id);
    """,
]


class CitationRecord(BaseModel):
    marker: int
    passage_id: str
    source: str
    section: str
    char_start: int
    char_end: int
    passage_sha256: str
    quoted: list[str]
    """The sentences of the answer quoted from this passage."""


class TurnRecord(BaseModel):
    id: int
    created_at: str
    conversation_id: str
    turn_number: int
    question: str
    query: str
    answer_text: str
    abstained: bool
    confidence: float
    latency_ms: float
    manifest_id: str
    feedback: int | None
    citations: list[CitationRecord] = []


class TurnFilter(BaseModel):
    since: str | None = None
    until: str | None = None
    text: str | None = None
    abstained_only: bool = False
    section: str | None = None
    max_confidence: float | None = None
    thumbs_down_only: bool = False
    limit: int = 1000


class AuditStore:
    """Thread-safe access to the audit database (one connection per call)."""

    def __init__(self, path: Path, retries: int = 20) -> None:
        self.path = Path(path)
        self.retries = retries
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.migrate()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.row_factory = sqlite3.Row
            yield conn
        finally:
            conn.close()

    def _retry(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        delay = 0.02
        for attempt in range(self.retries):
            try:
                with self._connect() as conn:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = fn(conn)
                        conn.execute("COMMIT")
                        return result
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == self.retries - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    def schema_version(self) -> int:
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            return int(row[0] or 0)

    def migrate(self) -> int:
        """Apply every migration not yet applied; returns the resulting version."""

        def run(conn: sqlite3.Connection) -> int:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
            for number, sql in enumerate(MIGRATIONS, 1):
                if number > current:
                    for statement in filter(str.strip, sql.split(";")):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_version(version) VALUES (?)", (number,))
            return len(MIGRATIONS)

        return self._retry(run)

    def record_turn(self, conversation_id: str, turn_number: int, answer: Answer, manifest_id: str) -> int:
        """Store one turn and its citations in a single transaction; returns the turn id."""

        def run(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO turns(created_at, conversation_id, turn_number, question, query, answer_text,"
                " abstained, confidence, latency_ms, manifest_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    datetime.now(UTC).isoformat(timespec="milliseconds"),
                    conversation_id,
                    turn_number,
                    answer.question,
                    answer.query,
                    answer.text,
                    int(answer.abstained),
                    answer.confidence,
                    answer.latency_ms,
                    manifest_id,
                ),
            )
            turn_id = int(cur.lastrowid)
            for c in answer.citations:
                quoted = [s.text for s in answer.sentences if s.citation == c.marker]
                conn.execute(
                    "INSERT INTO citations(turn_id, marker, passage_id, source, section, char_start, char_end,"
                    " passage_sha256, quoted) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        turn_id,
                        c.marker,
                        c.passage_id,
                        c.source,
                        " > ".join(c.section),
                        c.char_start,
                        c.char_end,
                        hashlib.sha256(c.text.encode("utf-8")).hexdigest(),
                        json.dumps(quoted, ensure_ascii=False),
                    ),
                )
            return turn_id

        return self._retry(run)

    def set_feedback(self, turn_id: int, feedback: int | None) -> None:
        """Record thumbs: 1 up, 0 down, None cleared."""
        self._retry(lambda conn: conn.execute("UPDATE turns SET feedback=? WHERE id=?", (feedback, turn_id)))

    def turns(self, flt: TurnFilter | None = None) -> list[TurnRecord]:
        flt = flt or TurnFilter()
        where, args = ["1=1"], []
        if flt.since:
            where.append("t.created_at >= ?")
            args.append(flt.since)
        if flt.until:
            where.append("t.created_at < ?")
            args.append(flt.until)
        if flt.text:
            where.append("(t.question LIKE ? ESCAPE '\\' OR t.answer_text LIKE ? ESCAPE '\\')")
            like = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            args += [like, like]
        if flt.abstained_only:
            where.append("t.abstained = 1")
        if flt.max_confidence is not None:
            where.append("t.confidence <= ?")
            args.append(flt.max_confidence)
        if flt.thumbs_down_only:
            where.append("t.feedback = 0")
        if flt.section:
            where.append("EXISTS (SELECT 1 FROM citations c WHERE c.turn_id = t.id AND c.section LIKE ?)")
            args.append(f"%{flt.section}%")
        sql = f"SELECT * FROM turns t WHERE {' AND '.join(where)} ORDER BY t.id DESC LIMIT ?"
        args.append(flt.limit)
        with self._connect() as conn:
            rows = conn.execute(sql, args).fetchall()
            ids = [r["id"] for r in rows]
            cites: dict[int, list[CitationRecord]] = {i: [] for i in ids}
            if ids:
                marks = ",".join("?" * len(ids))
                for c in conn.execute(f"SELECT * FROM citations WHERE turn_id IN ({marks}) ORDER BY marker", ids):
                    data = dict(c)
                    data["quoted"] = json.loads(data["quoted"])
                    cites[c["turn_id"]].append(CitationRecord.model_validate(data))
        return [
            TurnRecord.model_validate({**dict(r), "abstained": bool(r["abstained"]), "citations": cites[r["id"]]})
            for r in rows
        ]

    def citation_counts(self) -> dict[str, int]:
        """``{passage_id: times cited}``."""
        with self._connect() as conn:
            return {r[0]: r[1] for r in conn.execute("SELECT passage_id, COUNT(*) FROM citations GROUP BY passage_id")}

    def count(self) -> tuple[int, int]:
        """(turns, citations) stored."""
        with self._connect() as conn:
            t = conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
            c = conn.execute("SELECT COUNT(*) FROM citations").fetchone()[0]
            return int(t), int(c)


def to_jsonl(turns: list[TurnRecord]) -> str:
    return "".join(t.model_dump_json() + "\n" for t in turns)


def to_csv(turns: list[TurnRecord]) -> str:
    """One row per turn; citations flattened into a JSON column."""
    buf = io.StringIO()
    fields = [f for f in TurnRecord.model_fields if f != "citations"] + ["citations"]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for t in turns:
        row = t.model_dump(exclude={"citations"})
        row["citations"] = json.dumps([c.model_dump() for c in t.citations], ensure_ascii=False)
        writer.writerow(row)
    return buf.getvalue()
