"""Answers, follow-ups, abstention, batch and bad input (real models, shared per session)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coach.answer import EMPTY_PROMPT, history_turn
from coach.conversation import Turn, continues, followup_evidence, is_followup, resolve
from coach.evaluate import integrity_ok, read_conversations, run_conversation
from tests.conftest import ROOT, SEED

DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def test_the_topic_is_the_last_question_read_alone_as_it_was_searched():
    from coach.answer import history_turn
    from coach.conversation import contextual_query
    from coach.records import Answer

    first = Answer(question="what do they do?", query="what do they do?", abstained=False, text="x")
    typo = Answer(question="how much do OTs earnn?", query="how much do occupational therapists earn?",
                  abstained=False, text="y")  # fmt: skip
    followup = Answer(
        question="and in Ohio?", query=f"{typo.query} and in Ohio?", followup=True, abstained=True, text="z"
    )
    empty = Answer(question="??", query="", abstained=True, text="Please ask a question.")
    history = [history_turn(a) for a in (first, typo, followup, empty)]
    assert [t.standalone for t in history] == [True, True, False, False]
    assert (
        contextual_query("and after 10 years?", history)
        == "how much do occupational therapists earn? and after 10 years?"
    )


def test_followup_resolution_uses_the_topic_question():
    history = [
        Turn(
            question="what's the workplace culture like?",
            query="what's the workplace culture like?",
            standalone=True,
            passage_ids=["p1"],
        )
    ]
    res = resolve("is it fast paced?", history, followup=True)
    assert res.followup and "workplace culture" in res.query and res.focus_passages == ["p1"]
    new = resolve("How do visas work for technicians moving abroad?", history, followup=False)
    assert not new.followup and new.query == "How do visas work for technicians moving abroad?"


def test_openers_lean_back():
    assert continues("and after 10 years?")
    assert continues("what about once I'm senior?")
    assert not continues("What is HIPAA?")


@pytest.mark.parametrize(
    "q, may",
    [("What is HIPAA?", False), ("What does this job pay?", False), ("Can I work remotely?", False),
     ("is it fast paced?", True), ("what's the next level after that?", True), ("how much does it cost?", True),
     ("what about Brazil?", True), ("what do they do there?", True)],
)  # fmt: skip
def test_only_a_question_that_points_back_continues_the_topic(q, may):
    assert is_followup(q, better_with_topic=lambda: False) is may
    assert is_followup("how long?", lambda: True) and not is_followup("What is HIPAA?", lambda: True)


def test_a_question_about_the_topic_or_that_job_continues_it():
    topic = "what does a content marketing director do?"
    assert is_followup("what kind of content?", lambda: False, topic)
    assert is_followup("how senior is that job?", lambda: False, topic)
    assert not is_followup("What is HIPAA?", lambda: False, topic)
    assert not is_followup("What does this job pay?", lambda: False, topic)


def test_the_followup_signals_are_recorded_for_training():
    # The offline replay (benchmarks/followup_readings.py) fits a decision on these numbers.
    topic = "what does a content marketing director do?"
    ev = followup_evidence("and what kind of content?", topic, 0.12)
    assert ev == {"opens": 1.0, "points_back": 0.0, "elaborates": 1.0, "no_subject": 0.0, "topic_gain": 0.12}
    assert followup_evidence("how long?", topic, -0.1)["no_subject"] == 1.0


@pytest.mark.slow
def test_search_finds_the_median_salary(real_coach):
    from coach import lexical
    from coach.retrieve import retrieve

    q = "how much do they make"
    hits = retrieve(real_coach.index, real_coach.embedder.encode([q])[0], lexical.tokens(q), k=3)
    assert any("$47,190" in h.passage.text for h in hits)


@pytest.mark.slow
def test_questions_are_embedded_on_every_cpu_the_coach_may_use_while_faiss_keeps_its_one(real_coach):
    # torch and FAISS share one OpenMP thread count per calling thread; loading the index sets it
    # to 1 for FAISS's one-vector searches, which once left the embedder on one CPU too.
    import torch

    from coach.embed import cpu_budget

    model = real_coach.embedder._load()
    seen: list[int] = []
    encode = model.encode

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)

    torch.set_num_threads(1)  # as FAISS leaves it
    model.encode = spy
    try:
        real_coach.ask("How much do these techs make?")
    finally:
        del model.encode
    assert seen and set(seen) == {cpu_budget()}
    assert torch.get_num_threads() == 1  # FAISS searches on with one


def test_answer_is_verbatim_and_cited(real_coach):
    a = real_coach.ask("Which databases should I learn?")
    assert not a.abstained
    assert "MySQL, Microsoft SQL Server" in a.text
    text = SEED.read_text(encoding="utf-8")
    for s in a.sentences:
        assert text[s.char_start : s.char_end] == s.text
        assert f"[{s.citation}]" in a.text
    c = a.citations[0]
    assert text[c.char_start : c.char_end] == c.text and c.section[-1] in {"Technical Skills", "Tools & Technologies"}


@pytest.mark.slow
def test_table_row_is_quoted_with_its_columns(real_coach):
    a = real_coach.ask("which level do I need to reach to make over 90k?")
    rows = [s for s in a.sentences if s.kind == "table_row"]
    assert rows and rows[0].columns == ["Level", "US Median", "US Average"]


@pytest.mark.slow
def test_the_top_of_a_table_answers_which_pays_the_most(real_coach):
    a = real_coach.ask("which level pays the most?")
    assert not a.abstained and a.sentences[0].kind == "table_row"
    assert a.sentences[0].text.startswith("Health Information Systems Manager$110k")


@pytest.mark.slow
@pytest.mark.parametrize(
    "q",
    [
        "what's the weather in Paris tomorrow?",
        "how much does a pharmacy technician make?",
        "can you translate 'nice to meet you' into Spanish?",
        # Requests no career guide answers (none of them is a labelled question).
        "which pizza place in Chicago is the best?",
        "how do I fix a flat tire on my bike?",
    ],
)
def test_abstains_when_the_guide_does_not_say(real_coach, q):
    a = real_coach.ask(q)
    assert a.abstained and "does not cover" in a.text and a.suggestions
    assert a.sentences == [] and a.citations == []


@pytest.mark.slow
def test_followup_stays_on_topic(real_coach):
    first = real_coach.ask("what's the workplace culture like?")
    second = real_coach.ask("is it fast paced?", [history_turn(first)])
    assert "The pace can be fast" in second.text
    assert "workplace culture" in second.query


@pytest.mark.slow
@pytest.mark.parametrize(
    "starter",
    ["What is HIPAA?", "Which databases should I learn?", "What certifications should I get?"],
)
def test_a_new_topic_after_a_conversation_is_not_a_followup(real_coach, starter):
    first = real_coach.ask("what's the workplace culture like?")
    second = real_coach.ask("is it fast paced?", [history_turn(first)])
    third = real_coach.ask(starter, [history_turn(first), history_turn(second)])
    assert third.query == starter
    assert third.text == real_coach.ask(starter).text


@pytest.mark.slow
@pytest.mark.parametrize(
    "q, quote",
    [
        # Issue 8 names this one. Missed from stop 45 (the median ranked third and did not fit the
        # words); quoted again since the model refitted on 94 guides (stop 51), second, after the
        # California/Toronto example, which still leads.
        ("How much do these techs make?", "$47,190"),
        ("Which databases should I learn?", "MySQL"),
    ],
)
def test_common_questions_quote_the_right_sentence(real_coach, q, quote):
    a = real_coach.ask(q)
    assert not a.abstained and quote in a.text


def test_users_asking_at_once_get_the_answers_they_get_alone(real_coach):
    # A question answered alone runs the models on threads that spin; questions answered at
    # once run them on threads that sleep. The answers must not depend on which.
    from concurrent.futures import ThreadPoolExecutor

    from coach.rerank import ANSWERING

    questions = ["How much do these techs make?", "What certifications can I earn?", "What is HIPAA?",
                 "How long does the training take?"]  # fmt: skip
    alone = [real_coach.ask(q) for q in questions]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(real_coach.ask, questions * 2))
    assert not ANSWERING
    for a, b in zip(alone * 2, together, strict=True):
        assert (b.text, b.abstained, b.confidence) == (a.text, a.abstained, a.confidence), a.question


@pytest.mark.slow
def test_an_answer_opens_with_its_best_passage_not_a_weak_extra(real_coach):
    # Extras from other sections (a pay-table row) follow the best answer; they used to be
    # sorted by their place in the guide and could open the answer.
    q = "What does this job pay?"
    best = real_coach.analyze(q, []).candidates[0]
    a = real_coach.ask(q)
    assert not a.abstained and a.citations[0].passage_id == real_coach.index.passages[best.passage].id
    assert a.sentences[0].citation == a.citations[0].marker


@pytest.mark.slow
def test_integrity_over_every_dev_question(real_coach, real_settings):
    if not DEV.exists():
        pytest.skip("../shared/eval/dev.jsonl is not present")
    sources = {SEED.name: SEED.read_text(encoding="utf-8")}
    for _, conv in read_conversations(DEV):
        for a in run_conversation(real_coach, conv).answers:
            if not a.abstained:
                assert integrity_ok(a, sources), a.question


@pytest.mark.slow
@pytest.mark.parametrize(
    "q",
    ["", "   \n\t ", "\x00\x07\x1b[31m", "🙂🙂🙂", "¿Cuánto gana un técnico?", "<script>alert(1)</script> salary?",
     "[click](javascript:alert(1)) what is RHIT?", "<b>bold</b>" * 10],
)  # fmt: skip
def test_bad_input_never_crashes(real_coach, q):
    a = real_coach.ask(q)
    if not q.strip() or not any(ch.isalnum() for ch in q):
        assert a.abstained and a.text == EMPTY_PROMPT and a.query == ""
    assert isinstance(a.text, str)


@pytest.mark.slow
def test_very_long_question_is_cut_and_answered(real_coach):
    a = real_coach.ask("Which databases should I learn? " + "x" * 20_000)
    assert len(a.query) <= 1000
    assert a.latency_ms < 10_000


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "coach", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600
    )


def test_help_is_instant_and_lists_commands():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ["build-index", "search", "ask", "chat", "batch", "eval", "bench"]:
        assert cmd in r.stdout


def test_cli_errors_are_one_sentence(tmp_path):
    r = run_cli("build-index", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i"))
    assert r.returncode == 1
    assert r.stderr.startswith("error: The corpus folder") and "Traceback" not in r.stderr
    r = run_cli("search")
    assert r.returncode == 2


@pytest.mark.slow
def test_batch_format_and_malformed_lines(real_settings, real_coach, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(
        '{"id": "a", "turns": [{"q": "What does RHIT stand for?"}, {"q": "is it valued by employers?"}]}\n'
        "not json\n"
        '{"id": "b", "turns": "oops"}\n'
        '{"id": 3, "turns": [{"q": "Which databases should I learn?"}], "extra": 1}\n'
    )
    r = run_cli("batch", str(f), "--corpus", str(real_settings.corpus_dir), "--index", str(real_settings.index_dir))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["id"] for x in lines] == ["a", 3]
    assert (
        len(lines[0]["answers"]) == 2 and "Registered Health Information Technician" in lines[0]["answers"][0]["text"]
    )
    assert "line 2" in r.stderr and "line 3" in r.stderr and "Traceback" not in r.stderr


def test_build_index_cli_with_bad_model(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "g.txt").write_text(Path(SEED).read_text(encoding="utf-8")[:2000])
    r = run_cli(
        "build-index",
        "--corpus",
        str(corpus),
        "--index",
        str(tmp_path / "i"),
        env_extra={"COACH_MODEL": str(tmp_path / "nomodel")},
    )
    assert r.returncode == 1 and "model" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "i").exists()


@pytest.mark.slow
def test_a_named_place_picks_the_sentence_that_names_it(real_coach):
    a = real_coach.ask("what do technicians earn in Australia?")
    assert "AUD 60,000 to AUD 90,000" in a.text


@pytest.mark.slow
def test_how_much_questions_rank_the_sentence_with_the_amount_first(real_coach):
    best = real_coach.analyze("how much do certificate programs cost?", []).candidates[0]
    assert "$2,000 to $10,000" in best.get(real_coach.index).text


@pytest.mark.slow
def test_how_much_questions_are_answered_with_an_amount(real_coach):
    # Close to the abstention cut (P(answerable) 0.56 against 0.51 with the model fitted on 21
    # guides; 0.46 against 0.51 on 18): what a course costs is out of scope on most other guides.
    a = real_coach.ask("how much do certificate programs cost?")
    assert "$2,000 to $10,000" in a.text


@pytest.mark.slow
def test_unknown_words_are_surface_forms_not_stems(real_coach):
    index = real_coach.index
    assert index.knows("nursing") and not index.knows("nurse")  # "nursing homes" is not about nurses
    assert index.knows("paced") and index.knows("harder") and index.knows("certs")
    assert not index.knows("pharmacy")
    # Words only the site's upsell uses ("No credit card required") are not the guide's.
    assert not index.knows("credit") and not index.knows("himalayas")


@pytest.mark.slow
def test_next_level_steps_along_the_career_ladder(real_coach):
    first = real_coach.ask("what does a junior technician do all day?")
    assert not first.abstained  # "day" is an everyday word, not a topic the guide lacks
    nxt = real_coach.ask("and what is the next level?", [history_turn(first)])
    assert "2-4 years" in nxt.text and nxt.citations[0].section[-1].endswith("(2-4 years)")


@pytest.mark.slow
def test_a_misspelt_question_is_answered_as_if_spelt_right(real_coach):
    right = real_coach.ask("What certifications should I get?")
    typo = real_coach.ask("What certifcations shuold I get?")
    assert not typo.abstained and typo.text == right.text
    # The audit keeps the question as asked; the query shows how it was read.
    assert typo.question == "What certifcations shuold I get?" and "certifications" in typo.query


@pytest.mark.slow
def test_a_misspelt_question_sets_the_topic_of_the_next_follow_up(real_coach):
    history = [history_turn(real_coach.ask("what does a junior technician do all day?"))]
    typo = real_coach.ask("What certifcations shuold I get?", history)
    assert not typo.followup and history_turn(typo).standalone  # a new topic, typos and all
    nxt = real_coach.ask("which one should I get first?", [*history, history_turn(typo)])
    # Read with the corrected question, not the earlier topic nor the typos.
    assert nxt.followup and nxt.query.startswith("What certifications should I get?")


@pytest.mark.slow
def test_a_later_turn_can_be_read_either_way(real_coach):
    """Both readings of a later turn, as benchmarks/followup_readings.py measures them."""
    first = real_coach.ask("what's the workplace culture like?")
    history = [history_turn(first)]
    joined = real_coach.analyze("is it fast paced?", history, as_followup=True)
    alone = real_coach.analyze("is it fast paced?", history, as_followup=False)
    assert joined.res.followup and "workplace culture" in joined.res.query
    assert not alone.res.followup and alone.res.query == "is it fast paced?"


@pytest.mark.slow
def test_training_collects_both_readings_of_a_later_turn(real_coach, tmp_path):
    from coach.collect import collect
    from coach.evaluate import GuideSet

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "c", "kind": "multi", "turns": [
            {"q": "what's the workplace culture like?", "expect_any": ["culture"]},
            {"q": "is it fast paced?", "expect_any": ["fast-paced", "fast paced"]},
        ]}) + "\n"
    )  # fmt: skip
    gs = GuideSet(name="seed", guide=SEED, questions=[questions])
    first, later = collect(gs, real_coach, both_readings=True)
    assert first.other is None and later.other is not None
    assert later.followup and not later.other.followup
    assert len(later.other.labels) == len(later.other.rows)
    assert not first.evidence and later.evidence["points_back"] == 1.0  # "it" points back
    assert [t.other for t in collect(gs, real_coach)] == [None, None]


def test_terminal_answer_reads_a_table_row_with_its_column_names(capsys):
    from coach.cli import _print_answer
    from coach.records import Answer, AnswerSentence

    row = AnswerSentence(
        text="Junior Technician$47k USD$50k USD", citation=1, char_start=0, char_end=33, kind="table_row",
        columns=["Level", "US Median", "US Average"], cells=["Junior Technician", "$47k USD", "$50k USD"],
    )  # fmt: skip
    _print_answer(Answer(question="q", query="q", abstained=False, text=f"{row.text} [1]", sentences=[row]), False)
    out = capsys.readouterr().out
    assert "Junior Technician$47k USD$50k USD [1]" in out  # the quote stays verbatim
    assert "Level: Junior Technician · US Median: $47k USD · US Average: $50k USD" in out


def test_a_unit_after_the_quoted_one_is_marked_for_a_followup(settings, fake_embedder):
    """A follow-up such as "what comes after that?" reads the units right after the quoted one."""
    from coach.answer import AFTER_QUOTED_REACH, _QuestionContext
    from coach.conversation import Resolution
    from coach.index import build_index, load_index

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    pid = next(i for i, p in enumerate(index.passages) if len(p.units) >= 3)
    p = index.passages[pid]
    quoted = p.units[0]
    res = Resolution(query="q", followup=True, already_quoted=[(p.source, quoted.char_start)])
    vec = np.zeros(fake_embedder.dimension, dtype=np.float32)
    qc = _QuestionContext("what comes after that?", [], res, {pid}, index, vec, vec)
    g = index.unit_start[pid]
    assert qc.after_quoted(p.source, g) == 0.0  # the quoted unit itself is a repeat, not what follows
    assert qc.after_quoted(p.source, g + 1) == 1.0
    assert qc.after_quoted(p.source, g + 2) == 0.5
    assert qc.after_quoted(p.source, g + AFTER_QUOTED_REACH + 1) == 0.0
    assert qc.after_quoted("another-guide.txt", g + 1) == 0.0
    alone = _QuestionContext(
        "what comes after that?", [], Resolution(query="q", followup=False), set(), index, vec, vec
    )
    assert alone.after_quoted(p.source, g + 1) == 0.0


def test_a_followup_reads_the_passage_after_the_previous_answer(settings, fake_embedder):
    """The passage after the one last quoted joins a follow-up's pool, and its units carry
    ``after_quoted`` into the rows the ranker reads (neither would happen on the question alone)."""
    from coach.answer import Coach
    from coach.features import CANDIDATE_FEATURES
    from coach.index import build_index, load_index

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    coach = Coach(index, fake_embedder)
    q = "and what comes after that?"
    alone = {c.passage for c in coach.analyze(q, []).candidates}
    ps = index.passages
    pid = next(
        i
        for i in range(len(ps) - 1)
        if ps[i + 1].source == ps[i].source and ps[i + 1].section[:2] != ps[i].section[:2] and i + 1 not in alone
    )
    last = ps[pid].units[-1]
    before = Turn(
        question="what is it?", query="what is it?", standalone=True,
        passage_ids=[ps[pid].id], quoted=[(ps[pid].source, last.char_start)],
    )  # fmt: skip
    a = coach.analyze(q, [before])
    assert a.res.followup
    col = CANDIDATE_FEATURES.index("after_quoted")
    quoted = index.unit_start[pid] + len(ps[pid].units) - 1
    after = {index.unit_start[c.passage] + c.unit - quoted: a.rows[k, col] for k, c in enumerate(a.candidates)}
    nearest = min(d for d in after if d > 0)
    assert pid + 1 in {c.passage for c in a.candidates}
    assert after[nearest] == pytest.approx(1.0 / nearest)
    assert all(v == 0.0 for d, v in after.items() if d <= 0)


def test_a_followup_row_knows_how_close_each_unit_is_to_the_topic_alone(settings, fake_embedder):
    """``dense_topic``: read with its topic, a follow-up's rows carry each unit's cosine with the
    topic question alone (the model weighs it against the joined one, so the units the topic
    brought back are not taken for an answer to the new part); read alone, it is ``dense``."""
    from coach.answer import Coach
    from coach.features import CANDIDATE_FEATURES
    from coach.index import build_index, load_index

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    coach = Coach(index, fake_embedder)
    topic = "what does a wind turbine technician earn?"
    before = Turn(question=topic, query=topic, standalone=True)
    dense, col = CANDIDATE_FEATURES.index("dense"), CANDIDATE_FEATURES.index("dense_topic")
    a = coach.analyze("and what about the pros?", [before], as_followup=True)
    assert a.res.followup
    tvec = fake_embedder.encode([topic])[0]
    for k, c in enumerate(a.candidates):
        uvec = index.unit_vectors[index.unit_start[c.passage] + c.unit].astype(np.float32)
        assert a.rows[k, col] == pytest.approx(float(uvec @ tvec), abs=1e-5)
    assert not np.allclose(a.rows[:, col], a.rows[:, dense])
    alone = coach.analyze("and what about the pros?", [before], as_followup=False)
    assert np.array_equal(alone.rows[:, col], alone.rows[:, dense])


def _followup_coach(settings, fake_embedder):  # noqa: ANN001, ANN202
    """A coach over the fixture guides that answers whatever it is asked (abstention cut 0)."""
    from coach.answer import Coach
    from coach.index import build_index, load_index
    from coach.model import load_model

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    model = load_model()
    model = model.model_copy(update={"thresholds": model.thresholds.model_copy(update={"abstain_below": 0.0})})
    return Coach(index, fake_embedder, model=model)


def _short_units(coach, n: int) -> list[tuple[int, int]]:  # noqa: ANN001
    """``n`` distinct sentences of at most 15 words, each the last of its passage (nothing continues
    it), as (passage, unit)."""
    out, seen = [], set()
    for pid, p in enumerate(coach.index.passages):
        u = p.units[-1]
        if u.kind == "sentence" and len(u.text.split()) <= 15 and u.text not in seen:
            out.append((pid, len(p.units) - 1))
            seen.add(u.text)
    return out[:n]


def test_a_followup_read_alone_offers_its_confident_units_as_extras(settings, fake_embedder):
    """A follow-up is answered from its reading with the topic; a unit the question alone finds
    with confidence fills an extra place its own reading left, a weak one does not,
    and the best unit of the follow-up reading still leads."""
    from coach.retrieve import Candidate

    coach = _followup_coach(settings, fake_embedder)
    (b, bu), (w, wu), (s, su), (x, xu) = _short_units(coach, 4)

    def cand(pid: int, unit: int, score: float) -> Candidate:
        return Candidate(passage=pid, unit=unit, context="", dense=0.0, passage_score=0.0, score=score)

    weak = -6.0  # P(right) 0.25% < extra_min
    chosen = coach._compose([cand(b, bu, 2.0), cand(w, wu, weak)], lambda: [cand(s, su, 1.0), cand(x, xu, weak)])
    assert [(c.passage, c.unit) for c in chosen][0] == (b, bu)
    assert {(c.passage, c.unit) for c in chosen} == {(b, bu), (s, su)}
    assert [(c.passage, c.unit) for c in coach._compose([cand(b, bu, 2.0)])] == [(b, bu)]
    # The alone reading only fills places: its units, however confident, do not push out
    # the topic reading's own extra (the last place goes to the best of them).
    chosen = coach._compose([cand(b, bu, 2.0), cand(w, wu, 0.5)], lambda: [cand(s, su, 3.0), cand(x, xu, 2.5)])
    assert [(c.passage, c.unit) for c in chosen][0] == (b, bu)
    assert {(c.passage, c.unit) for c in chosen} == {(b, bu), (w, wu), (s, su)}


def test_a_followup_read_alone_does_not_quote_again_what_the_conversation_quoted(settings, fake_embedder):
    """The question read alone may find the sentence the previous answer quoted; it is no news then."""
    from coach.answer import Analysis
    from coach.conversation import Resolution
    from coach.features import QUESTION_FEATURES
    from coach.retrieve import Candidate

    coach = _followup_coach(settings, fake_embedder)
    (b, bu), (q, qu), (s, su) = _short_units(coach, 3)
    quoted = coach._quoted_key(Candidate(passage=q, unit=qu, context="", dense=0.0, passage_score=0.0))

    def analysis(units: list[tuple[int, int, float]], followup: bool) -> Analysis:
        cands = [Candidate(passage=p, unit=u, context="", dense=0.0, passage_score=0.0, score=sc) for p, u, sc in units]
        return Analysis(
            question="and after that?", hits=[], candidates=cands, rows=np.zeros((len(cands), 1)),
            scores=np.asarray([c.score for c in cands]), qrow=[0.0] * len(QUESTION_FEATURES),
            qrow_first=[0.0] * len(QUESTION_FEATURES), reranked=True,
            res=Resolution(query="topic and after that?", followup=followup, already_quoted=[quoted]),
        )  # fmt: skip

    with_topic = analysis([(b, bu, 2.0)], followup=True)
    alone = analysis([(q, qu, 3.0), (s, su, 1.0)], followup=False)
    answer = coach.decide(with_topic, lambda: alone)
    texts = [coach.index.passages[p].units[u].text for p, u in [(b, bu), (q, qu), (s, su)]]
    assert not answer.abstained
    assert texts[0] in answer.text and texts[2] in answer.text and texts[1] not in answer.text


def test_a_followup_is_read_alone_only_when_a_place_is_left(settings, fake_embedder):
    """The second reading costs a cross-encoder pass: a full answer skips it (an abstention never composes)."""
    from coach.retrieve import Candidate

    coach = _followup_coach(settings, fake_embedder)
    units = _short_units(coach, 3)
    full = [Candidate(passage=p, unit=u, context="", dense=0.0, passage_score=0.0, score=2.0) for p, u in units]

    def never() -> list:
        raise AssertionError("read alone although no place was left")

    assert len(coach._compose(full, never)) == 3


def test_the_followup_evidence_reads_the_topic_as_it_was_searched(settings, fake_embedder):
    """ "which therapists?" elaborates on "how much do OTs earnn?" once that was searched as
    "how much do occupational therapists earn?"; read as typed, it would bring a subject of its own."""
    from coach.conversation import Turn

    coach = _followup_coach(settings, fake_embedder)
    topic = Turn(question="how much do OTs earnn?", query="how much do occupational therapists earn?", standalone=True)
    a = coach.analyze("which therapists?", [topic])
    assert a.evidence["elaborates"] == 1.0 and a.res.followup


@pytest.mark.parametrize("alone_covered", [True, False])
def test_a_followup_its_topic_reading_cannot_answer_is_answered_on_its_own(
    settings, fake_embedder, monkeypatch, alone_covered
):
    """A question like "ok different question, what do the lowest paid electricians make?" opens
    like a follow-up; read with its topic the guide does not cover it, read alone it may: then its own
    answer is given (under the same abstention model and cut) and it starts a new topic, else the
    coach says it is not covered. A follow-up its topic reading answers is never replaced, a
    first question is read once, and an answer that would quote again what the conversation just
    quoted is no answer to a new question."""
    from coach.answer import Analysis, history_turn
    from coach.conversation import Turn
    from coach.records import Answer

    coach = _followup_coach(settings, fake_embedder)
    topic = "do electricians work outside much?"
    history = [Turn(question=topic, query=topic, standalone=True)]
    q = "ok different question, what do the lowest paid electricians make?"
    read: list[bool] = []
    covered = {True: False, False: alone_covered}  # reading with the topic -> covered?

    def decide(a: Analysis, alone=None) -> Answer:  # noqa: ANN001
        read.append(a.res.followup)
        ok = covered[a.res.followup]
        return Answer(
            question=q, query=a.res.query, followup=a.res.followup, abstained=not ok,
            text=a.res.query if ok else "not covered",
        )  # fmt: skip

    real_read = coach._read
    reads: list[bool] = []

    def counted(asked, history, followup, full_pool, guide):  # noqa: ANN001, ANN202
        reads.append(followup)
        return real_read(asked, history, followup, full_pool, guide)

    monkeypatch.setattr(coach, "decide", decide)
    monkeypatch.setattr(coach, "_read", counted)
    answer = coach.ask(q, history)
    assert read == [True, False] and reads == [True, False]  # the question alone is read once
    assert answer.abstained is not alone_covered
    assert answer.query == (q if alone_covered else f"{topic} {q}")
    assert history_turn(answer).standalone is alone_covered  # answered alone: a new topic
    if alone_covered:
        assert answer.signals["read_alone"] == 1.0
        # What the question alone finds first was just quoted: that is no answer to it.
        best = coach.analyze(q, [], as_followup=False).candidates[0]
        quoted = [Turn(question=topic, query=topic, standalone=True, quoted=[coach._quoted_key(best)])]
        assert coach.ask(q, quoted).abstained
    read.clear()
    covered[True] = True
    assert not coach.ask(q, history).abstained and read == [True]
    read.clear()
    covered[True] = covered[False] = False
    assert coach.ask(q, []).abstained and read == [False]  # a first question has no other reading
