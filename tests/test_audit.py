"""Audit store: migrations, round trip, verdict history, streaming exports, retention, logins, concurrency.

Every store test runs twice: on a SQLite file and on a fresh database of the
session's PostgreSQL server (``postgresql_proc`` in conftest.py).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

import coach.audit as audit
from coach.audit import MIGRATIONS, AuditStore, TurnFilter
from coach.errors import CoachError
from coach.export import csv_lines, neutralise, to_csv, to_jsonl
from coach.records import Answer, AnswerSentence, Citation


def answer(n: int = 0, abstained: bool = False, question: str | None = None) -> Answer:
    if abstained:
        return Answer(
            question=f"weather {n}?", query=f"weather {n}?", abstained=True, text="The guide does not cover that."
        )
    q = question or f"What does it pay {n}?"
    return Answer(
        question=q,
        query=q,
        abstained=False,
        text="It pays $47,190. [1]",
        sentences=[AnswerSentence(text="It pays $47,190.", citation=1, char_start=10, char_end=26)],
        citations=[
            Citation(
                marker=1,
                passage_id=f"p{n % 3}",
                source="g.txt",
                title="G",
                section=["G", "Pay"],
                text="Intro. It pays $47,190.",
                char_start=3,
                char_end=26,
                score=1.0,
            ),
        ],  # fmt: skip
        confidence=0.9,
        latency_ms=12.5,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's audit store lives: a SQLite file, or an empty PostgreSQL database (as a URL)."""
    if request.param == "sqlite":
        return tmp_path / "a.sqlite3"
    return request.getfixturevalue("postgresql_url")


def test_migrations_from_empty(target):
    store = AuditStore(target)
    assert store.schema_version() == len(MIGRATIONS) == 4
    AuditStore(target).close()  # re-opening applies nothing twice
    engine = create_engine(audit.audit_url(target))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM schema_version")).scalar() == len(MIGRATIONS)
        # the numbered migrations build exactly the tables and columns the queries use
        found = inspect(conn)
        for table in audit.metadata.sorted_tables:
            assert [c["name"] for c in found.get_columns(table.name)] == [c.name for c in table.columns]
    engine.dispose()
    store.close()


def test_a_version_1_log_is_upgraded_with_its_turns(target, monkeypatch):
    monkeypatch.setattr(audit, "MIGRATIONS", MIGRATIONS[:1])
    old = AuditStore(target)
    monkeypatch.setattr(audit.AuditStore, "record_turn", _record_v1)
    turn_id = old.record_turn("c", 1, answer(1), "m1")
    monkeypatch.undo()
    store = AuditStore(target)
    assert store.schema_version() == 4
    got = store.turn(turn_id)
    assert got is not None and got.guide is None and got.verdict is None and got.question == "What does it pay 1?"
    assert got.followup is None  # logged before the audit kept the reading: unknown, not "on its own"
    assert next(csv.DictReader(io.StringIO(to_csv([got]))))["followup"] == ""
    store.record_verdict(turn_id, "correct", "ana")
    assert store.turn(turn_id).verdict.verdict == "correct"


def _record_v1(self, conversation_id, turn_number, ans, manifest_id):  # noqa: ANN001, ANN202
    """A turn written by the 0.1 schema (no guide column)."""
    row = {"created_at": audit.utc_now(), "conversation_id": conversation_id, "turn_number": turn_number,
           "question": ans.question, "query": ans.query, "answer_text": ans.text, "abstained": 0,
           "confidence": 0.9, "latency_ms": 1.0, "manifest_id": manifest_id}  # fmt: skip
    insert = text(f"INSERT INTO turns({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)}) RETURNING id")
    return self._retry(lambda conn: conn.execute(insert, row).scalar())


RELEASE_0_1_SQLITE = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version(version) VALUES (1);
CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, conversation_id TEXT NOT NULL,
    turn_number INTEGER NOT NULL, question TEXT NOT NULL, query TEXT NOT NULL, answer_text TEXT NOT NULL,
    abstained INTEGER NOT NULL, confidence REAL NOT NULL, latency_ms REAL NOT NULL, manifest_id TEXT NOT NULL,
    feedback INTEGER);
CREATE TABLE citations (id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE, marker INTEGER NOT NULL,
    passage_id TEXT NOT NULL, source TEXT NOT NULL, section TEXT NOT NULL, char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL, passage_sha256 TEXT NOT NULL, quoted TEXT NOT NULL);
CREATE INDEX idx_turns_created ON turns(created_at);
CREATE INDEX idx_citations_turn ON citations(turn_id);
CREATE INDEX idx_citations_passage ON citations(passage_id);
INSERT INTO turns VALUES (7, '2026-01-05T10:00:00.000+00:00', 'c', 1, 'Pay?', 'Pay?', 'It pays. [1]', 0, 0.9, 3.5, 'm', 1);
INSERT INTO citations VALUES (1, 7, 1, 'p1', 'g.txt', 'G > Pay', 0, 9, 'abc', '["It pays."]');
"""


def test_a_sqlite_log_of_release_0_1_is_upgraded_in_place(tmp_path):
    """A log written by raw sqlite3 (the released schema, version 1) keeps its turns and its id sequence."""
    path = tmp_path / "audit.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(RELEASE_0_1_SQLITE)
    store = AuditStore(str(path))  # a path given as text is a file too
    assert store.schema_version() == 4
    old = store.turn(7)
    assert old is not None and old.feedback == 1 and old.citations[0].quoted == ["It pays."] and old.guide is None
    assert old.followup is None
    assert store.record_turn("c", 2, answer(2), "m") == 8
    store.record_verdict(7, "correct", "ana")
    assert [t.id for t in store.conversation("c")] == [7, 8] and store.verdict_counts() == {"correct": 1}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_round_trip_filters_feedback_and_export(target):
    store = AuditStore(target)
    t1 = store.record_turn("conv1", 1, answer(1), "manifest1")
    store.record_turn("conv1", 2, answer(2, abstained=True), "manifest1")
    store.set_feedback(t1, 0)
    turns = store.turns()
    assert [t.turn_number for t in turns] == [2, 1]
    got = turns[1]
    assert got.citations[0].quoted == ["It pays $47,190."] and got.citations[0].section == "G > Pay"
    assert len(got.citations[0].passage_sha256) == 64 and got.manifest_id == "manifest1"
    assert [t.id for t in store.turns(TurnFilter(abstained_only=True))] != [t1]
    assert [t.id for t in store.turns(TurnFilter(thumbs_down_only=True))] == [t1]
    assert [t.id for t in store.turns(TurnFilter(text="pay 1"))] == [t1]
    assert [t.id for t in store.turns(TurnFilter(section="Pay"))] == [t1]
    assert "$47,190" in to_csv(turns) and to_jsonl(turns).count("\n") == 2
    assert [t.turn_number for t in store.conversation("conv1")] == [1, 2]


def test_a_followup_is_logged_as_read_with_its_topic(target):
    store = AuditStore(target)
    store.record_turn("c", 1, answer(1), "m")
    follow = answer(2, question="and in Canada?").model_copy(
        update={"query": "What does it pay 1? and in Canada?", "followup": True}
    )
    store.record_turn("c", 2, follow, "m")
    assert [t.followup for t in store.conversation("c")] == [False, True]
    rows = list(csv.DictReader(io.StringIO(to_csv(store.conversation("c")))))
    assert [r["followup"] for r in rows] == ["0", "1"]


def test_verdicts_keep_their_history_and_the_newest_counts(target):
    store = AuditStore(target)
    t1 = store.record_turn("c", 1, answer(1), "m")
    t2 = store.record_turn("c", 2, answer(2), "m")
    store.record_verdict(t1, "correct", "ana")
    store.record_verdict(t1, "wrong", "ben", sentence="Other sentence.", note="pay is hourly")
    assert [v.verdict for v in store.verdict_history(t1)] == ["correct", "wrong"]
    current = store.turn(t1).verdict
    assert (current.verdict, current.reviewer, current.sentence, current.note) == (
        "wrong", "ben", "Other sentence.", "pay is hourly")  # fmt: skip
    assert store.turn(t2).verdict is None
    assert [t.id for t in store.turns(TurnFilter(reviewed_only=True))] == [t1]
    assert [t.id for t in store.turns(TurnFilter(unreviewed_only=True))] == [t2]
    assert store.verdict_counts() == {"wrong": 1}
    assert store.reviewed_conversations() == ["c"]


def test_exports_stream_every_row_past_a_thousand(target):
    store = AuditStore(target)
    for k in range(1203):
        store.record_turn(f"c{k}", 1, answer(k), "m")
    assert len(store.turns()) == 1000  # the page shows the newest 1,000 ...
    every = list(store.iter_turns(TurnFilter(limit=None), batch=100))  # ... exports read them all, in pages
    assert len(every) == 1203 and len({t.id for t in every}) == 1203
    assert [t.id for t in every] == sorted((t.id for t in every), reverse=True)
    rows = list(csv.DictReader(io.StringIO("".join(csv_lines(store.iter_turns(TurnFilter(limit=None)))))))
    assert len(rows) == 1203 and rows[0]["id"] == str(every[0].id)


def test_csv_cells_that_a_spreadsheet_would_run_are_text(target):
    store = AuditStore(target)
    evil = '=HYPERLINK("http://x","y")'
    store.record_turn("c", 1, answer(1, question=evil), "m")
    store.record_turn("c", 2, answer(2, question="+1 555 0100 is that a number?"), "m")
    rows = list(csv.DictReader(io.StringIO(to_csv(store.turns()))))
    assert rows[1]["question"] == "'" + evil
    assert rows[0]["question"].startswith("'+1")
    assert all(neutralise(c) == "'" + c for c in ["-2+3", "@SUM(A1)", "\t=1", "\r=1"])
    assert neutralise("How much?") == "How much?" and neutralise(-1.5) == -1.5
    assert json.loads(to_jsonl(store.turns()).splitlines()[1])["question"] == evil  # JSON keeps the text as typed


def test_purge_deletes_whole_old_conversations_and_old_logins(target, monkeypatch):
    store = AuditStore(target)
    now = datetime.now(UTC)
    old = audit.iso((now - timedelta(days=100)).timestamp())
    monkeypatch.setattr(audit, "utc_now", lambda: old)
    a1 = store.record_turn("old", 1, answer(1), "m")
    store.record_verdict(a1, "correct", "ana")
    monkeypatch.undo()
    store.record_turn("old", 2, answer(2), "m")  # a follow-up asked today in a conversation begun 100 days ago
    keep = store.record_turn("new", 1, answer(3), "m")
    store.record_login("failed", "s1", at=(now - timedelta(days=100)).timestamp())
    store.record_login("ok", "s1")
    cutoff = audit.iso((now - timedelta(days=90)).timestamp())
    preview = store.purge(cutoff, dry_run=True)
    assert (preview.conversations, preview.turns, preview.verdicts, preview.login_events) == (1, 2, 1, 1)
    assert store.count()[0] == 3
    report = store.purge(cutoff)
    assert report == preview
    assert [t.id for t in store.turns()] == [keep] and store.count() == (1, 1)
    assert [e.outcome for e in store.login_events()] == ["ok"]
    assert store.purge(cutoff).turns == 0


def test_login_failures_per_session_reset_by_a_success(target):
    store = AuditStore(target)
    for outcome, session, at in [("failed", "a", 100), ("failed", "b", 101), ("ok", "a", 102), ("failed", "a", 103)]:
        store.record_login(outcome, session, "ana", "10.0.0.1", at=at)
    assert len(store.login_failures(0)) == 3
    assert len(store.login_failures(101)) == 2
    assert len(store.login_failures(0, "a")) == 1 and len(store.login_failures(0, "b")) == 1
    assert [e.outcome for e in store.login_events()] == ["failed", "ok", "failed", "failed"]


def test_concurrent_writers_lose_nothing(target):
    store = AuditStore(target)

    def worker(w: int) -> None:
        for k in range(50):
            tid = store.record_turn(f"conv{w}", k + 1, answer(k), "m")
            if k % 10 == 0:
                store.record_verdict(tid, "correct", f"r{w}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == (400, 400)
    assert store.verdict_counts() == {"correct": 40}


WRITER = """
import sys
from coach.audit import AuditStore
from tests.test_audit import answer

url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = AuditStore(url)  # both processes open (and migrate) the empty database at once
print("ready", flush=True)
sys.stdin.readline()  # then both write at once
for k in range(n):
    tid = store.record_turn(f"{name}-{k // 5}", k % 5 + 1, answer(k), "m")
    if k % 10 == 0:
        store.record_verdict(tid, "correct", name)
print("done", flush=True)
"""


def test_two_app_processes_share_one_postgresql_and_lose_nothing(postgresql_url):
    n = 100
    root = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, postgresql_url, name, str(n)],
            cwd=root,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        for name in ("replica-a", "replica-b")
    ]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    store = AuditStore(postgresql_url)
    assert store.count() == (2 * n, 2 * n) and store.verdict_counts() == {"correct": 2 * n // 10}
    assert store.schema_version() == 4
    every = store.turns(TurnFilter(limit=None))
    assert len({t.id for t in every}) == 2 * n
    for name in ("replica-a", "replica-b"):
        assert [t.turn_number for t in store.conversation(f"{name}-3")] == [1, 2, 3, 4, 5]
    with create_engine(postgresql_url).connect() as conn:  # one migration run, not one per replica
        assert conn.execute(text("SELECT COUNT(*) FROM schema_version")).scalar() == 4


def test_the_store_is_chosen_by_url_or_file(tmp_path, monkeypatch):
    from coach.settings import Settings

    monkeypatch.setenv("COACH_AUDIT_DB", str(tmp_path / "file.sqlite3"))
    monkeypatch.delenv("COACH_AUDIT_URL", raising=False)
    assert AuditStore.from_settings(Settings.from_env()).location == str(tmp_path / "file.sqlite3")
    monkeypatch.setenv("COACH_AUDIT_URL", f"sqlite:///{tmp_path / 'url.sqlite3'}")
    store = AuditStore.from_settings(Settings.from_env())
    assert store.path == tmp_path / "url.sqlite3" and store.path.is_file()
    assert audit.audit_url("postgresql://ana:secret@db.internal/coach").drivername == "postgresql+psycopg"


def test_an_unusable_url_is_one_clear_sentence():
    with pytest.raises(CoachError, match="use one of sqlite, postgresql"):
        AuditStore("mysql://ana@localhost/coach")
    with pytest.raises(CoachError, match="cannot be reached") as caught:
        AuditStore("postgresql://ana:secret@127.0.0.1:1/coach")  # nothing listens on port 1
    assert "secret" not in str(caught.value) and "COACH_AUDIT_URL" in str(caught.value)


def test_the_audit_commands_use_the_shared_database(postgresql_url, tmp_path, monkeypatch, capsys):
    from coach.cli import main

    store = AuditStore(postgresql_url)
    turn_id = store.record_turn("c", 1, answer(1), "m")
    monkeypatch.setenv("COACH_AUDIT_URL", postgresql_url)
    monkeypatch.setenv("COACH_AUDIT_DB", str(tmp_path / "not-this.sqlite3"))
    assert main(["audit", "verdict", str(turn_id), "wrong", "--reviewer", "ana"]) == 0
    assert main(["audit", "export", "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["verdict"]["verdict"] == "wrong" and "Exported 1 turn(s)" in err
    monkeypatch.delenv("COACH_AUDIT_URL")
    assert main(["audit", "export", "--db", postgresql_url]) == 0  # --db takes a URL too
    assert json.loads(capsys.readouterr().out)["id"] == turn_id
    assert not (tmp_path / "not-this.sqlite3").exists()
