"""Audit store: migrations, round trip, concurrency."""

from __future__ import annotations

import sqlite3
import threading

from coach.audit import MIGRATIONS, AuditStore, TurnFilter, to_csv, to_jsonl
from coach.records import Answer, AnswerSentence, Citation


def answer(n: int = 0, abstained: bool = False) -> Answer:
    if abstained:
        return Answer(
            question=f"weather {n}?", query=f"weather {n}?", abstained=True, text="The guide does not cover that."
        )
    return Answer(
        question=f"What does it pay {n}?",
        query=f"What does it pay {n}?",
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


def test_migrations_from_empty(tmp_path):
    store = AuditStore(tmp_path / "a.sqlite3")
    assert store.schema_version() == len(MIGRATIONS)
    AuditStore(tmp_path / "a.sqlite3")  # re-opening applies nothing twice
    with sqlite3.connect(tmp_path / "a.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


def test_round_trip_filters_feedback_and_export(tmp_path):
    store = AuditStore(tmp_path / "a.sqlite3")
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


def test_concurrent_writers_lose_nothing(tmp_path):
    store = AuditStore(tmp_path / "a.sqlite3")

    def worker(w: int) -> None:
        for k in range(50):
            store.record_turn(f"conv{w}", k + 1, answer(k), "m")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == (400, 400)
