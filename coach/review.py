"""Staff review: verdicts on answers, the regression set they make, and a replay of it.

A verdict says what the coach should have done on one turn:

- ``correct``: the answer (or the "not covered") was right;
- ``wrong``: the answer was wrong, optionally with the guide sentence it
  should have quoted;
- ``should-abstain``: it answered but the guide does not cover the question;
- ``should-answer``: it said "not covered", and here is the sentence to quote.

The rules keep a verdict consistent with the turn it judges, so that on the
index that answered, every ``correct`` verdict is a hit and every other verdict
a miss. A "right sentence" must be a whole unit of the current guide (a
sentence, bullet, table row or fact), matched with whitespace collapsed and
stored exactly as the guide writes it.

The regression set (:func:`export_eval`) has one conversation per reviewed
conversation, up to its last reviewed turn, in the evaluation format of
:mod:`coach.evaluate`. The turns before a reviewed one are there so a
follow-up is asked with the same history; each expects what the staff said
(its verdict) or, without a verdict, what it answered then, so that replaying
on the same index gives exactly the verdicts' hits plus a hit for each
context turn, and a context turn that changes later shows up too.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from pydantic import BaseModel

from coach.answer import Coach, history_turn
from coach.audit import VERDICTS, AuditStore, TurnRecord, VerdictKind, VerdictRecord
from coach.errors import CoachError
from coach.evaluate import Conversation, EvalTurn, _norm, run_conversation, turn_correct
from coach.records import Answer, Passage, Unit
from coach.retrieve import conversation_guide
from coach.sentences import split_sentences

EXPORT_HINT = "Record verdicts on the staff page or with: python -m coach audit verdict TURN_ID correct"


class VerdictError(CoachError):
    """A verdict that does not fit its turn or names a sentence the guide does not have."""


def find_unit(passages: Iterable[Passage], text: str) -> Unit | None:
    """The unit of the guide whose text (or plain text) is ``text``, whitespace aside; else the
    unit that holds ``text`` as one of its sentences (a run-in heading's unit, "Color vision.
    Electricians must ...", holds "Electricians must ...")."""
    want = " ".join(text.split())
    if not want:
        return None
    units = [u for p in passages for u in p.units]
    for u in units:
        if " ".join(u.text.split()) == want or (u.plain is not None and " ".join(u.plain.split()) == want):
            return u
    for u in units:
        for body in {u.text, u.plain or u.text}:
            if any(" ".join(body[s:e].split()) == want for s, e in split_sentences(body)):
                return u
    return None


def search_units(passages: Iterable[Passage], query: str, limit: int = 30) -> list[tuple[Passage, Unit]]:
    """Units containing every word of ``query`` (case ignored), in guide order: to pick a right sentence."""
    words = [w for w in _norm(query).split() if w]
    if not words:
        return []
    found = []
    for p in passages:
        for u in p.units:
            if u.kind != "heading" and all(w in _norm(u.plain or u.text) for w in words):
                found.append((p, u))
                if len(found) >= limit:
                    return found
    return found


def check_verdict(
    turn: TurnRecord, verdict: str, sentence: str | None, passages: Iterable[Passage] | None
) -> tuple[VerdictKind, str | None]:
    """The verdict and the right sentence as the guide writes it, or a :class:`VerdictError` saying why not."""
    if verdict not in VERDICTS:
        raise VerdictError(f"'{verdict}' is not a verdict.", f"Choose one of: {', '.join(VERDICTS)}.")
    sentence = (sentence or "").strip() or None
    n = turn.id
    if sentence and verdict in ("correct", "should-abstain"):
        raise VerdictError(
            f"A right sentence goes with 'wrong' or 'should-answer', not '{verdict}'.", "Leave the sentence out."
        )
    if verdict == "should-abstain" and turn.abstained:
        raise VerdictError(f"Turn {n} already said the guide does not cover it.", "Record 'correct' instead.")
    if verdict == "should-answer":
        if not turn.abstained:
            raise VerdictError(
                f"Turn {n} did answer.", "If the answer is wrong, record 'wrong' with the right sentence."
            )
        if not sentence:
            raise VerdictError(
                "'should-answer' needs the sentence the coach should have quoted.", "Add it with --sentence TEXT."
            )
    if verdict == "wrong" and turn.abstained:
        raise VerdictError(
            f"Turn {n} did not answer.", "Record 'should-answer' with the sentence it should have quoted."
        )
    if sentence is None:
        return verdict, None  # type: ignore[return-value]
    unit = find_unit(passages or [], sentence)
    if unit is None:
        raise VerdictError(
            "That sentence is not in the guide.",
            "Give one whole sentence, bullet or table row exactly as the guide writes it "
            "(python -m coach search shows the guide's text).",
        )
    if verdict == "wrong" and _norm(unit.text) in _norm(turn.answer_text):
        raise VerdictError(
            f"The answer of turn {n} already quotes that sentence.",
            "Record 'correct', or give a sentence the answer did not quote.",
        )
    return verdict, unit.text  # type: ignore[return-value]


def expectation(turn: TurnRecord) -> EvalTurn:
    """What a replay of ``turn`` must give: its verdict's expectation, or (no verdict) the answer it gave."""
    v = turn.verdict
    if v is None or v.verdict == "correct":
        if turn.abstained:
            return EvalTurn(q=turn.question, abstain=True)
        return EvalTurn(q=turn.question, expect_any=list(dict.fromkeys(turn.quoted)))
    if v.verdict == "should-abstain":
        return EvalTurn(q=turn.question, abstain=True)
    # wrong or should-answer: the right sentence; a "wrong" without one can only ever be a miss.
    return EvalTurn(q=turn.question, expect_any=[v.sentence] if v.sentence else [])


def as_answer(turn: TurnRecord) -> Answer:
    """The recorded answer in the shape the scorer reads (its text and whether it abstained)."""
    return Answer(question=turn.question, query=turn.query, abstained=turn.abstained, text=turn.answer_text)


class ExportSummary(BaseModel):
    conversations: int = 0
    reviewed: Counter[str] = Counter()
    context_turns: int = 0
    expected_hits: int = 0
    """Hits a replay on the index that answered must give: every ``correct`` verdict and every context turn."""
    turns: int = 0


def reviewed_conversations(store: AuditStore) -> Iterator[tuple[list[TurnRecord], Conversation, dict]]:
    """Each reviewed conversation up to its last verdict: (turns, Conversation, its JSON line as a dict)."""
    for cid in store.reviewed_conversations():
        turns = store.conversation(cid)
        last = max(k for k, t in enumerate(turns) if t.verdict is not None)
        turns = turns[: last + 1]
        expected = [expectation(t) for t in turns]
        # One guide for every turn is how the chat scoped them (picked, or named in each question); any
        # other mix was decided per question, which a replay without a guide decides again the same way.
        guides = {t.guide for t in turns}
        guide = guides.pop() if len(guides) == 1 else None
        kind = "multi" if len(turns) > 1 else ("oos" if expected[0].abstain else "single")
        line = {
            "id": f"audit-t{turns[0].id}",
            "kind": kind,
            "guide": guide,
            "conversation_id": cid,
            "turns": [
                {"q": e.q, "expect_any": e.expect_any, **({"abstain": True} if e.abstain else {}),
                 "turn_id": t.id, "verdict": t.verdict.verdict if t.verdict else None}
                for t, e in zip(turns, expected, strict=True)
            ],
        }  # fmt: skip
        yield turns, Conversation.model_validate({**line, "turns": [e.model_dump() for e in expected]}), line


def export_eval(store: AuditStore, summary: ExportSummary | None = None) -> Iterator[dict]:
    """The regression set, one conversation (as a JSON-ready dict) at a time; fills ``summary`` as it goes."""
    summary = summary if summary is not None else ExportSummary()
    any_line = False
    for turns, conv, line in reviewed_conversations(store):
        any_line = True
        summary.conversations += 1
        for t, e in zip(turns, conv.turns, strict=True):
            summary.turns += 1
            if t.verdict is None:
                summary.context_turns += 1
            else:
                summary.reviewed[t.verdict.verdict] += 1
            summary.expected_hits += turn_correct(as_answer(t), e)
        yield line
    if not any_line:
        raise CoachError("No turn has a verdict yet, so there is nothing to export.", EXPORT_HINT)


def export_eval_lines(store: AuditStore, summary: ExportSummary | None = None) -> Iterator[str]:
    """:func:`export_eval` as JSON Lines."""
    for line in export_eval(store, summary):
        yield json.dumps(line, ensure_ascii=False) + "\n"


Change = Literal["unchanged", "changed", "better", "worse"]


class ReplayRow(BaseModel):
    turn_id: int
    conversation_id: str
    turn_number: int
    question: str
    verdict: VerdictRecord
    before: str
    before_abstained: bool
    after: str
    after_abstained: bool
    was_hit: bool
    now_hit: bool
    change: Change


def replay(store: AuditStore, coach: Coach, progress: Callable[[int, int], None] | None = None) -> list[ReplayRow]:
    """Re-ask every reviewed conversation on ``coach``'s index; one row per reviewed turn.

    ``better``/``worse``: the answer now meets (or no longer meets) what the
    verdict expects; ``changed``: another answer, neither better nor worse by
    the verdict (e.g. a ``wrong`` with no right sentence); ``unchanged``: the
    same answer.
    """
    convs = list(reviewed_conversations(store))
    rows: list[ReplayRow] = []
    for k, (turns, conv, _) in enumerate(convs):
        result = run_conversation(coach, conv)
        for t, e, now in zip(turns, conv.turns, result.answers, strict=True):
            if t.verdict is None:
                continue
            was, hit = turn_correct(as_answer(t), e), turn_correct(now, e)
            same = now.abstained == t.abstained and _norm(now.text) == _norm(t.answer_text)
            change: Change = (
                "better" if hit and not was else "worse" if was and not hit else "unchanged" if same else "changed"
            )
            rows.append(
                ReplayRow(
                    turn_id=t.id, conversation_id=t.conversation_id, turn_number=t.turn_number, question=t.question,
                    verdict=t.verdict, before=t.answer_text, before_abstained=t.abstained, after=now.text,
                    after_abstained=now.abstained, was_hit=was, now_hit=hit, change=change,
                )
            )  # fmt: skip
        if progress is not None:
            progress(k + 1, len(convs))
    return rows


def record_conversation(coach: Coach, store: AuditStore, conv: Conversation) -> tuple[list[Answer], list[int]]:
    """Ask ``conv`` as one chat conversation and record its turns as the chat page does.

    Each turn is scoped as the chat scopes it (the guide picked, else one the
    question names, else the conversation's). An empty question is answered (with a prompt) but, as in the chat, is not a
    turn: it is neither recorded nor part of the history.
    """
    conversation_id = uuid.uuid4().hex
    history, answers, ids = [], [], []
    previous: str | None = None  # the guide of the last recorded turn: a conversation stays with its career
    for turn in conv.turns:
        scope = conv.guide
        if len(coach.index.manifest.guides) > 1:
            scope = conversation_guide(coach.index, turn.q, conv.guide, previous)
        answer = coach.ask(turn.q, history, guide=scope)
        answers.append(answer)
        if answer.query:
            ids.append(store.record_turn(conversation_id, len(ids) + 1, answer, coach.index.manifest.id))
            history.append(history_turn(answer))
            previous = answer.guide
    return answers, ids
