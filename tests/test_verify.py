"""Citation verification against kept index builds and the current guide; `audit verify` exit codes."""

from __future__ import annotations

import re

import pytest

from coach.answer import Coach
from coach.audit import AuditStore
from coach.cli import main
from coach.index import build_index, build_path, load_index
from coach.verify import Verifier
from tests.conftest import SEED


@pytest.fixture
def answered(settings, fake_embedder):
    """An index build kept in index/builds/<manifest-id>/ and one audited answer that quotes it."""
    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    assert build_path(settings.index_dir, index.manifest.id) is not None  # build_index keeps every build
    answer = Coach(index, fake_embedder).ask("Which databases should I learn?")
    assert not answer.abstained and answer.citations
    store = AuditStore(settings.audit_db)
    turn_id = store.record_turn("c", 1, answer, index.manifest.id)
    return store, turn_id, index


def test_a_fresh_citation_is_verified(settings, answered):
    store, turn_id, _ = answered
    check = Verifier(settings.index_dir, settings.corpus_dir).check(store.turn(turn_id))
    assert check.status == "verified" and all(c.status == "verified" for c in check.citations)


def test_an_edited_guide_is_reported_and_the_build_still_verifies(settings, answered):
    store, turn_id, _ = answered
    turn = store.turn(turn_id)
    guide = settings.corpus_dir / SEED.name
    text = guide.read_text(encoding="utf-8")
    quote = turn.citations[0].quoted[0]
    assert quote in text
    guide.write_text(text.replace(quote, "Something else entirely."), encoding="utf-8")
    check = Verifier(settings.index_dir, settings.corpus_dir).check(turn)
    assert check.status == "edited"
    assert "edited since" in check.citations[0].detail and "no longer contains" in check.citations[0].detail


def test_a_build_no_longer_kept_is_said_so(settings, answered):
    store, turn_id, index = answered
    turn = store.turn(turn_id).model_copy(update={"manifest_id": "0123456789abcdef"})
    check = Verifier(settings.index_dir, settings.corpus_dir).check(turn)
    assert check.status == "gone" and "no longer kept" in check.citations[0].detail


def test_a_record_that_disagrees_with_its_build_is_a_mismatch_and_fails_the_cli(
    settings, answered, capsys, monkeypatch
):
    store, turn_id, index = answered
    monkeypatch.setenv("COACH_CORPUS", str(settings.corpus_dir))
    monkeypatch.setenv("COACH_INDEX", str(settings.index_dir))
    monkeypatch.setenv("COACH_AUDIT_DB", str(settings.audit_db))
    assert main(["audit", "verify"]) == 0
    err = capsys.readouterr().err
    assert "in 1 turn(s)" in err and " 0 guide edited since, 0 build no longer kept, 0 MISMATCH" in err
    kept = build_path(settings.index_dir, index.manifest.id) / "passages.jsonl"
    cited = store.turn(turn_id).citations[0]
    word = next(w for w in re.findall(r"[A-Za-z]{4,}", cited.quoted[0]))  # a word of the quoted sentence
    lines = kept.read_text(encoding="utf-8").splitlines()
    tampered = [line.replace(word, word.swapcase()) if f'"id":"{cited.passage_id}"' in line else line for line in lines]
    assert tampered != lines
    kept.write_text("\n".join(tampered) + "\n", encoding="utf-8")
    assert main(["audit", "verify"]) == 1
    out, err = capsys.readouterr()
    assert f"turn {turn_id} [1] MISMATCH" in out and "do not match the index build" in err
