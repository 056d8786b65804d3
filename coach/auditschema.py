"""The audit log's schema: the tables as the queries see them, and the numbered migrations that build them.

Each migration is SQLAlchemy DDL (or SQL that SQLite and PostgreSQL both
accept), frozen as released: a schema change is a new migration, and the
tables below are updated to match (a test compares them after migrating).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import BigInteger, Column, Connection, Float, ForeignKey, Index, Integer, MetaData, Table, Text, text

# SQLite: INTEGER PRIMARY KEY is the rowid (BIGINT would not be); PostgreSQL: 64-bit ids.
ID = BigInteger().with_variant(Integer(), "sqlite")
# ISO-8601 times compare correctly only byte by byte; a PostgreSQL locale collation may not.
STAMP = Text().with_variant(Text(collation="C"), "postgresql")


def _id() -> Column:
    return Column("id", ID, primary_key=True, autoincrement=True)


def _turn_ref() -> Column:
    return Column("turn_id", ID, ForeignKey("turns.id", ondelete="CASCADE"), nullable=False)


# -- the schema as the queries see it (the sum of the migrations below) --------------------------

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
turns = Table(
    "turns", metadata, _id(),
    Column("created_at", STAMP, nullable=False), Column("conversation_id", Text, nullable=False),
    Column("turn_number", Integer, nullable=False), Column("question", Text, nullable=False),
    Column("query", Text, nullable=False), Column("answer_text", Text, nullable=False),
    Column("abstained", Integer, nullable=False), Column("confidence", Float, nullable=False),
    Column("latency_ms", Float, nullable=False), Column("manifest_id", Text, nullable=False),
    Column("feedback", Integer), Column("guide", Text), Column("followup", Integer),
)  # fmt: skip
citations = Table(
    "citations", metadata, _id(), _turn_ref(),
    Column("marker", Integer, nullable=False), Column("passage_id", Text, nullable=False),
    Column("source", Text, nullable=False), Column("section", Text, nullable=False),
    Column("char_start", Integer, nullable=False), Column("char_end", Integer, nullable=False),
    Column("passage_sha256", Text, nullable=False), Column("quoted", Text, nullable=False),
)  # fmt: skip
verdicts = Table(
    "verdicts", metadata, _id(), _turn_ref(),
    Column("created_at", STAMP, nullable=False), Column("reviewer", Text, nullable=False),
    Column("verdict", Text, nullable=False), Column("sentence", Text), Column("note", Text, nullable=False),
)  # fmt: skip
login_events = Table(
    "login_events", metadata, _id(),
    Column("created_at", STAMP, nullable=False), Column("outcome", Text, nullable=False),
    Column("session_key", Text, nullable=False), Column("staff_name", Text, nullable=False),
    Column("client", Text, nullable=False),
)  # fmt: skip


# -- numbered migrations: each one frozen as released, run in one transaction with its version row --


def _create(conn: Connection, *tables: Table) -> None:
    for table in tables:
        table.create(conn, checkfirst=False)  # also creates the table's indexes


def _migration_1(conn: Connection) -> None:
    """Turns and their citations."""
    md = MetaData()
    turns_v1 = Table(
        "turns", md, _id(),
        Column("created_at", STAMP, nullable=False), Column("conversation_id", Text, nullable=False),
        Column("turn_number", Integer, nullable=False), Column("question", Text, nullable=False),
        Column("query", Text, nullable=False), Column("answer_text", Text, nullable=False),
        Column("abstained", Integer, nullable=False), Column("confidence", Float, nullable=False),
        Column("latency_ms", Float, nullable=False), Column("manifest_id", Text, nullable=False),
        Column("feedback", Integer),
        Index("idx_turns_created", "created_at"), sqlite_autoincrement=True,
    )  # fmt: skip
    citations_v1 = Table(
        "citations", md, _id(), _turn_ref(),
        Column("marker", Integer, nullable=False), Column("passage_id", Text, nullable=False),
        Column("source", Text, nullable=False), Column("section", Text, nullable=False),
        Column("char_start", Integer, nullable=False), Column("char_end", Integer, nullable=False),
        Column("passage_sha256", Text, nullable=False), Column("quoted", Text, nullable=False),
        Index("idx_citations_turn", "turn_id"), Index("idx_citations_passage", "passage_id"),
        sqlite_autoincrement=True,
    )  # fmt: skip
    _create(conn, turns_v1, citations_v1)


def _migration_2(conn: Connection) -> None:
    """Staff verdicts on turns (a row per change; the newest row is the verdict), and the guide a
    turn was scoped to (picked by the job seeker or named in the question), so a replay asks it the same way."""
    md = MetaData()
    Table("turns", md, _id())  # what the verdicts' foreign key points at; already there
    verdicts_v2 = Table(
        "verdicts", md, _id(), _turn_ref(),
        Column("created_at", STAMP, nullable=False), Column("reviewer", Text, nullable=False),
        Column("verdict", Text, nullable=False), Column("sentence", Text), Column("note", Text, nullable=False),
        Index("idx_verdicts_turn", "turn_id"), sqlite_autoincrement=True,
    )  # fmt: skip
    _create(conn, verdicts_v2)
    conn.execute(text("CREATE INDEX idx_turns_conversation ON turns (conversation_id)"))
    conn.execute(text("ALTER TABLE turns ADD COLUMN guide TEXT"))


def _migration_3(conn: Connection) -> None:
    """Staff login attempts (throttling reads them; staff see them)."""
    md = MetaData()
    login_v3 = Table(
        "login_events", md, _id(),
        Column("created_at", STAMP, nullable=False), Column("outcome", Text, nullable=False),
        Column("session_key", Text, nullable=False), Column("staff_name", Text, nullable=False),
        Column("client", Text, nullable=False),
        Index("idx_login_created", "created_at"), sqlite_autoincrement=True,
    )  # fmt: skip
    _create(conn, login_v3)


def _migration_4(conn: Connection) -> None:
    """Whether a turn was read as a follow-up (searched with its conversation's topic); NULL for
    the turns logged before it was kept."""
    conn.execute(text("ALTER TABLE turns ADD COLUMN followup INTEGER"))


MIGRATIONS: list[Callable[[Connection], None]] = [_migration_1, _migration_2, _migration_3, _migration_4]
