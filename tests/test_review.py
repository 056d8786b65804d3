"""Staff review from a terminal: batch --record, verdicts, the regression set, eval on it; bad input; exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import coach.service
from coach.audit import AuditStore
from coach.cli import main
from coach.evaluate import _norm
from coach.index import build_index, load_index
from coach.records import Answer
from tests.conftest import FakeEmbedder

CONVERSATIONS = [
    ["What is the median salary?"],
    ["which EHR systems will I work with?"],
    ["Which databases should I learn?"],
    ["How many job openings are there each year?"],
    ["what certification do wind turbine technicians need?"],
    ["Can I work remotely?"],
    ["What skills do I need?"],
    ["How do I get started in this career?"],
    ["what does a dental hygienist do?"],
    ["what's the weather in Paris tomorrow?"],
    ["what's the workplace culture like?", "is it fast paced?", "and what about remote work?"],
    ["What does this job pay?", "and after 10 years?", "what about bonuses?"],
    ["How do I become a wind turbine technician?", "how long does it take?", "is it dangerous?"],
    ["What education do I need?", "where can I study?", "does financial aid cover that?"],
    ["What certifications help?", "which one first?", "how much does it cost?"],
]
# Turns (conversation, turn) to review: 20 of the 25; the others are context or come after the last verdict.
REVIEW = [(c, 0) for c in range(10)] + [(10, 1), (10, 2), (11, 0), (11, 2), (12, 0), (12, 1), (12, 2), (13, 1),
                                         (14, 1), (14, 2)]  # fmt: skip


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_env(settings, fake_embedder, monkeypatch):
    """The CLI on a fake-embedder index: every command opens the same fake model."""
    build_index(settings, fake_embedder)
    monkeypatch.setattr(coach.service, "SentenceTransformerEmbedder", lambda path: FakeEmbedder())
    monkeypatch.setenv("COACH_CORPUS", str(settings.corpus_dir))
    monkeypatch.setenv("COACH_INDEX", str(settings.index_dir))
    monkeypatch.setenv("COACH_AUDIT_DB", str(settings.audit_db))
    monkeypatch.setenv("COACH_RERANKER", "0")
    return settings


def write_batch(path: Path, conversations: list[list[str]]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": f"b{k}", "turns": [{"q": q} for q in c]}) + "\n" for k, c in enumerate(conversations))
    )
    return path


def review_round_trip(capsys, settings, tmp_path, model_id: str) -> dict:
    """Record the conversations with batch --record, review 20 turns through the CLI, export-eval, eval.

    Returns the figures the test (and the README) quote.
    """
    code, out, err = run(capsys, "batch", write_batch(tmp_path / "b.jsonl", CONVERSATIONS), "--record")
    assert code == 0, err
    recorded = [json.loads(line) for line in out.splitlines()]
    assert [len(r["turn_ids"]) for r in recorded] == [len(c) for c in CONVERSATIONS]
    store = AuditStore(settings.audit_db)
    units = [
        u.text for p in load_index(settings, model_id, check=False).passages for u in p.units if u.kind == "sentence"
    ]

    def other_sentence(answer_text: str) -> str:
        return next(u for u in units if _norm(u) not in _norm(answer_text) and "\n" not in u)

    cycle = ["correct", "wrong+sentence", "should-abstain", "wrong", "correct"]
    implied: dict[int, bool] = {}  # turn id -> hit the verdict implies
    for k, (c, t) in enumerate(REVIEW):
        turn = store.turn(recorded[c]["turn_ids"][t])
        kind = cycle[k % len(cycle)]
        if turn.abstained:  # only these two verdicts fit a "not covered"
            kind = "correct" if k % 2 else "should-answer"
        args = ["audit", "verdict", turn.id, kind.split("+")[0]]
        if kind in ("wrong+sentence", "should-answer"):
            args += ["--sentence", other_sentence(turn.answer_text)]
        code, _, err = run(capsys, *args, "--note", f"review {k}", "--reviewer", "ana")
        assert code == 0, err
        implied[turn.id] = kind == "correct"
    # Change one verdict: the newest counts.
    changed = store.turn(recorded[0]["turn_ids"][0])
    assert changed.verdict.verdict == "correct" and not changed.abstained
    code, out, err = run(
        capsys, "audit", "verdict", changed.id, "wrong", "--sentence", other_sentence(changed.answer_text)
    )
    assert code == 0 and "(was correct)" in out, err
    implied[changed.id] = False

    code, out, err = run(capsys, "audit", "export-eval")
    assert code == 0, err
    predicted = int(err.split("eval scores ")[1].split(" of ")[0])  # export-eval's own forecast
    lines = [json.loads(line) for line in out.splitlines()]
    reviewed = tmp_path / "reviewed.jsonl"
    reviewed.write_text(out)
    exported = {t["turn_id"]: (line["id"], n + 1) for line in lines for n, t in enumerate(line["turns"])}
    context = [tid for tid in exported if tid not in implied]
    assert set(implied) <= set(exported) and len(implied) == 20
    assert len(context) == 4  # the unreviewed turns before a reviewed one

    code, out, err = run(capsys, "eval", reviewed, "--json")
    assert code == 0, err
    report = json.loads(out)
    failures = {(f["id"], f["turn"]) for f in report["failures"]}
    want_failures = {exported[tid] for tid, hit in implied.items() if not hit}
    assert failures == want_failures
    assert report["turns"] == len(exported) == 24
    hits = report["turns"] - len(failures)
    assert hits == sum(implied.values()) + len(context) == predicted
    return {"reviewed": len(implied), "context": len(context), "turns": report["turns"], "hits": hits,
            "verdict_hits": sum(implied.values()), "failures": len(failures),
            "kinds": sorted({store.turn(t).verdict.verdict for t in implied})}  # fmt: skip


def test_twenty_reviewed_turns_replay_to_exactly_the_hits_their_verdicts_imply(cli_env, capsys, tmp_path):
    figures = review_round_trip(capsys, cli_env, tmp_path, FakeEmbedder.model_id)
    print("round trip (fake embedder):", figures)
    assert figures["reviewed"] == 20 and figures["failures"] == 20 - figures["verdict_hits"]
    assert {"correct", "wrong", "should-abstain"} <= set(figures["kinds"])


def test_batch_record_writes_turns_as_the_chat_does(cli_env, capsys, tmp_path):
    code, out, err = run(capsys, "batch", write_batch(tmp_path / "b.jsonl", [["What skills do I need?", "   ", "and which databases?"]]), "--record")  # fmt: skip
    assert code == 0, err
    line = json.loads(out)
    assert len(line["answers"]) == 3 and len(line["turn_ids"]) == 2  # the empty question is not a turn
    store = AuditStore(cli_env.audit_db)
    turns = [store.turn(t) for t in line["turn_ids"]]
    assert [t.turn_number for t in turns] == [1, 2] and len({t.conversation_id for t in turns}) == 1
    assert turns[0].citations and turns[0].manifest_id == load_index(cli_env, FakeEmbedder.model_id).manifest.id
    assert "Recorded 2 turn(s)" in err


def test_bad_verdicts_are_one_sentence_and_write_nothing(cli_env, capsys, tmp_path):
    code, out, _ = run(capsys, "batch", write_batch(tmp_path / "b.jsonl", [["What skills do I need?"]]), "--record")
    turn_id = json.loads(out)["turn_ids"][0]
    store = AuditStore(cli_env.audit_db)
    answered = store.turn(turn_id)
    abstained = store.record_turn(
        "c2", 1, Answer(question="pizza?", query="pizza?", abstained=True, text="The guide does not cover that."), "m"
    )
    cases = [
        (["999999", "correct"], "There is no turn 999999"),
        ([turn_id, "wrong", "--sentence", "Astronauts earn a million dollars a day."], "That sentence is not in the guide."),
        ([turn_id, "wrong", "--sentence", answered.quoted[0]], "already quotes that sentence"),
        ([turn_id, "should-answer", "--sentence", answered.quoted[0]], f"Turn {turn_id} did answer."),
        ([turn_id, "correct", "--sentence", answered.quoted[0]], "A right sentence goes with"),
        ([abstained, "should-answer"], "needs the sentence"),
        ([abstained, "should-abstain"], "already said the guide does not cover it"),
        ([abstained, "wrong"], "did not answer"),
    ]  # fmt: skip
    for args, message in cases:
        code, out, err = run(capsys, "audit", "verdict", *args)
        assert code == 1 and out == "" and message in err, (args, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert store.verdict_counts() == {}
    with pytest.raises(SystemExit) as exc:
        main(["audit", "verdict", str(turn_id), "maybe"])
    assert exc.value.code == 2


def test_export_eval_without_verdicts_writes_nothing(cli_env, capsys, tmp_path):
    run(capsys, "batch", write_batch(tmp_path / "b.jsonl", [["What skills do I need?"]]), "--record")
    code, out, err = run(capsys, "audit", "export-eval")
    assert code == 1 and out == ""
    assert "No turn has a verdict yet" in err and "python -m coach audit verdict" in err


def test_audit_commands_never_create_a_missing_log(cli_env, capsys, tmp_path):
    missing = tmp_path / "nowhere" / "audit.sqlite3"
    for args in (["export"], ["export-eval"], ["verify"], ["purge", "--older-than", "30"], ["verdict", "1", "correct"]):
        code, out, err = run(capsys, "audit", *args, "--db", missing)
        assert code == 1 and "There is no audit log at" in err, args
    assert not missing.parent.exists()


def test_export_cli_streams_every_turn_with_its_id(cli_env, capsys, tmp_path):
    run(capsys, "batch", write_batch(tmp_path / "b.jsonl", [['=HYPERLINK("http://x","y")'], ["What skills do I need?"]]), "--record")  # fmt: skip
    code, out, err = run(capsys, "audit", "export", "--format", "jsonl")
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert code == 0 and len(ids) == 2 and "Exported 2 turn(s)" in err
    code, out, _ = run(capsys, "audit", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["id"]) for r in rows] == ids
    assert rows[1]["question"] == "'" + '=HYPERLINK("http://x","y")'
    code, _, err = run(capsys, "audit", "export", "--since", "yesterday")
    assert code == 1 and "is not a date" in err


def test_purge_cli(cli_env, capsys, tmp_path):
    run(capsys, "batch", write_batch(tmp_path / "b.jsonl", [["What skills do I need?"]]), "--record")
    code, out, _ = run(capsys, "audit", "purge", "--older-than", "0", "--dry-run")
    assert code == 0 and out.startswith("Would delete 1 conversation(s)")
    assert AuditStore(cli_env.audit_db).count()[0] == 1
    code, out, _ = run(capsys, "audit", "purge", "--older-than", "0")
    assert code == 0 and out.startswith("Deleted 1 conversation(s)")
    assert AuditStore(cli_env.audit_db).count() == (0, 0)
    code, _, err = run(capsys, "audit", "purge", "--older-than", "-3")
    assert code == 1 and "negative" in err


def test_hash_password_cli(capsys, monkeypatch):
    from coach.staffauth import StaffSecret, check_password

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
    code, out, err = run(capsys, "hash-password")
    assert code == 0 and out.startswith("scrypt:32768:8:1$") and "COACH_STAFF_PASSWORD_HASH" in err
    assert check_password("correct horse battery staple", StaffSecret(kind="hash", value=out.strip()))
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, out, err = run(capsys, "hash-password")
    assert code == 1 and out == "" and "at least 12" in err


@pytest.mark.slow
def test_round_trip_with_the_real_models(real_settings, real_coach, capsys, tmp_path, monkeypatch):
    """The same round trip on the real models (shared with the other slow tests), where 'not covered' happens."""
    settings = real_settings.model_copy(update={"audit_db": tmp_path / "audit.sqlite3"})
    monkeypatch.setattr(coach.service, "SentenceTransformerEmbedder", lambda path: real_coach.embedder)
    monkeypatch.setattr(coach.service, "CrossEncoder", lambda path: real_coach.reranker)
    monkeypatch.setenv("COACH_CORPUS", str(settings.corpus_dir))
    monkeypatch.setenv("COACH_INDEX", str(settings.index_dir))
    monkeypatch.setenv("COACH_AUDIT_DB", str(settings.audit_db))
    figures = review_round_trip(capsys, settings, tmp_path, real_coach.embedder.model_id)
    print("round trip (real models):", figures)
    assert figures["reviewed"] == 20 and "should-answer" in figures["kinds"]


def test_staff_can_name_a_sentence_that_is_quoted_with_its_run_in_heading():
    from coach.chunk import chunk_guide
    from coach.parse import parse_guide
    from coach.review import find_unit

    text = "Electrician\n\nImportant Qualities\n\nColor vision. Electricians must be able to identify wires by their color.\n"
    passages = chunk_guide(parse_guide(text, "electrician.txt"))
    unit = find_unit(passages, "Electricians must be able to  identify wires by their color.")
    assert unit is not None and unit.text.startswith("Color vision. Electricians must")
    assert find_unit(passages, "Electricians must be able to identify wires") is None
