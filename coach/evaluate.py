"""Batch answering and evaluation against questions with expected answers.

Input is JSON Lines, one conversation per line::

    {"id": "d031", "kind": "multi", "turns": [{"q": "...", "expect_any": ["..."], "abstain": false}]}

An optional ``"guide": "<file name in the corpus>"`` scopes every turn of the
conversation to that guide.

A turn is right when the answer contains any ``expect_any`` string (case and
whitespace ignored), or abstains where ``abstain`` is true.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from coach.answer import Coach, history_turn
from coach.errors import CoachError
from coach.records import Answer
from coach.retrieve import conversation_guide
from coach.settings import Settings


class EvalTurn(BaseModel):
    q: str
    expect_any: list[str] = []
    abstain: bool = False


class Conversation(BaseModel):
    id: str | int
    kind: str = "single"
    turns: list[EvalTurn]
    guide: str | None = None
    """Scope every turn to this guide (a file name in the corpus)."""


class GuideSet(BaseModel):
    """One guide with the labelled conversations asked about it."""

    name: str
    guide: Path
    questions: list[Path]

    def conversations(self) -> list[Conversation]:
        out = []
        for path in self.questions:
            for _, conv in read_conversations(path):
                if isinstance(conv, str):
                    raise CoachError(f"{path}: {conv}", "Fix that line of the question file.")
                out.append(conv)
        return out


def load_sets(path: Path) -> tuple[list[GuideSet], list[str]]:
    """The guide sets listed in a JSON file (paths relative to it); missing files are reported, not fatal."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CoachError(f"The sets file {path} does not exist.", "Give the path of a sets file.") from exc
    except json.JSONDecodeError as exc:
        raise CoachError(f"The sets file {path} is not valid JSON ({exc.msg}).", "Fix the file.") from exc
    base = path.resolve().parent
    sets, missing = [], []
    for entry in data.get("guides", []):
        gs = GuideSet(name=entry["name"], guide=base / entry["guide"], questions=[base / q for q in entry["questions"]])
        absent = [str(p) for p in [gs.guide, *gs.questions] if not p.is_file()]
        if absent:
            missing.append(f"{gs.name}: {', '.join(absent)} not found")
        else:
            sets.append(gs)
    return sets, missing


def guide_index_settings(gs: GuideSet, cache: Path, base: Settings) -> Settings:
    """Settings for an index of this guide alone, kept under ``cache`` and rebuilt when the guide changes."""
    folder = cache / gs.name
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    target = corpus / gs.guide.name
    text = gs.guide.read_bytes()
    if not target.exists() or target.read_bytes() != text:
        for old in corpus.iterdir():
            old.unlink()
        target.write_bytes(text)
    return base.model_copy(update={"corpus_dir": corpus, "index_dir": folder / "index"})


class BatchResult(BaseModel):
    id: str | int
    answers: list[Answer]


class TurnScore(BaseModel):
    id: str
    turn: int
    kind: str
    question: str
    correct: bool
    expected_abstain: bool
    abstained: bool
    answer: str
    query: str
    expect_any: list[str]


class EvalReport(BaseModel):
    single_hit: float
    followup_hit: float
    oos_abstention: float
    false_abstention: float
    citation_integrity: float
    median_answer_words: float
    latency_p50_ms: float
    latency_p95_ms: float
    turns: int
    failures: list[TurnScore]


def read_conversations(path: Path) -> Iterator[tuple[int, Conversation | str]]:
    """Yield ``(line_number, conversation)`` or ``(line_number, error message)``."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, Conversation.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                yield n, f"line {n}: not valid JSON ({exc.msg})."
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                yield n, f"line {n}: {where}: {first['msg']}."


def run_conversation(coach: Coach, conv: Conversation) -> BatchResult:
    history = []
    answers = []
    previous = None  # the guide the conversation is about, once a question named one
    for turn in conv.turns:
        answer = coach.ask(turn.q, history, guide=conversation_guide(coach.index, turn.q, conv.guide, previous))
        previous = answer.guide
        answers.append(answer)
        history.append(history_turn(answer))
    return BatchResult(id=conv.id, answers=answers)


QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _norm(text: str) -> str:
    """Lowercase, curly quotes straightened, whitespace collapsed (as the question sets' checker does)."""
    return " ".join(text.translate(QUOTES).lower().split())


def turn_correct(answer: Answer, turn: EvalTurn) -> bool:
    if turn.abstain:
        return answer.abstained
    if answer.abstained:
        return False
    text = _norm(answer.text)
    return any(_norm(e) in text for e in turn.expect_any)


def integrity_ok(answer: Answer, sources: dict[str, str]) -> bool:
    """Every sentence verbatim in its passage and every passage equal to its source slice."""
    by_marker = {c.marker: c for c in answer.citations}
    for c in answer.citations:
        src = sources.get(c.source)
        if src is None or src[c.char_start : c.char_end] != c.text:
            return False
    for s in answer.sentences:
        c = by_marker.get(s.citation)
        if c is None or s.text not in c.text:
            return False
        src = sources[c.source]
        if src[s.char_start : s.char_end] != s.text:
            return False
    return True


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def score(convs: list[Conversation], results: list[BatchResult], sources: dict[str, str]) -> EvalReport:
    single, follow, oos, inscope_abstained, inscope = [], [], [], 0, 0
    integrity, words, latencies = [], [], []
    turns: list[TurnScore] = []
    for conv, res in zip(convs, results, strict=True):
        for k, (turn, ans) in enumerate(zip(conv.turns, res.answers, strict=True)):
            ok = turn_correct(ans, turn)
            latencies.append(ans.latency_ms)
            if turn.abstain:
                oos.append(ok)
            else:
                inscope += 1
                inscope_abstained += ans.abstained
                (single if k == 0 else follow).append(ok)
                if not ans.abstained:
                    words.append(sum(len(s.text.split()) for s in ans.sentences))
            if not ans.abstained:
                integrity.append(integrity_ok(ans, sources))
            turns.append(
                TurnScore(
                    id=str(conv.id), turn=k + 1, kind=conv.kind, question=turn.q, correct=ok,
                    expected_abstain=turn.abstain, abstained=ans.abstained, answer=ans.text,
                    query=ans.query, expect_any=turn.expect_any,
                )
            )  # fmt: skip

    def rate(xs: list[bool]) -> float:
        return round(sum(xs) / len(xs), 3) if xs else 0.0

    return EvalReport(
        single_hit=rate(single),
        followup_hit=rate(follow),
        oos_abstention=rate(oos),
        false_abstention=round(inscope_abstained / inscope, 3) if inscope else 0.0,
        citation_integrity=rate(integrity) if integrity else 1.0,
        median_answer_words=float(statistics.median(words)) if words else 0.0,
        latency_p50_ms=round(_pct(latencies, 0.5), 1),
        latency_p95_ms=round(_pct(latencies, 0.95), 1),
        turns=len(turns),
        failures=[t for t in turns if not t.correct],
    )


def format_report(report: EvalReport, failures: bool = False) -> str:
    lines = [
        f"single-turn hit rate      {report.single_hit:.3f}",
        f"follow-up hit rate        {report.followup_hit:.3f}",
        f"out-of-scope abstention   {report.oos_abstention:.3f}",
        f"false abstention          {report.false_abstention:.3f}",
        f"citation integrity        {report.citation_integrity:.3f}",
        f"median answer words       {report.median_answer_words:.1f}",
        f"latency p50 / p95 (ms)    {report.latency_p50_ms:.1f} / {report.latency_p95_ms:.1f}",
        f"turns                     {report.turns}",
    ]
    if failures:
        for f in report.failures:
            want = "abstain" if f.expected_abstain else " | ".join(f.expect_any)
            lines += [
                "",
                f"[{f.id} turn {f.turn}] {f.question}",
                f"  query:  {f.query}",
                f"  want:   {want}",
                f"  got:    {f.answer}",
            ]
    return "\n".join(lines)
