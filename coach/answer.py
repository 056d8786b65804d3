"""Extractive answers: the 1-3 guide sentences that answer a question, with citations.

The pipeline for one question::

    clean -> resolve follow-up -> embed -> hybrid retrieve passages
          -> candidate units -> rerank (cross-encoder) -> pick 1-3 units
          -> abstain when the best unit does not answer -> Answer

No text is generated: every quoted sentence is a verbatim slice of a guide.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from functools import cached_property

import numpy as np
from pydantic import BaseModel

from coach import lexical
from coach.chunk import unit_context
from coach.conversation import Turn, resolve, subject_words
from coach.embed import Embedder
from coach.index import Index
from coach.records import Answer, AnswerSentence, Citation, Unit
from coach.rerank import CrossEncoder
from coach.retrieve import Candidate, candidate_units, retrieve
from coach.settings import MAX_QUESTION_CHARS

EMPTY_PROMPT = "Please type a question about the career guide, for example: What does this job pay?"
# What a question asks for, and what a sentence must contain to answer it:
# "how much does it cost" wants an amount of money, "how many" a number.
ANSWER_TYPES: list[tuple[str, re.Pattern[str], re.Pattern[str]]] = [
    (
        "amount",
        re.compile(
            r"\bhow much\b.*\b(?:cost|costs|charge|charges|pay|paid|pays|earn|earns|make|makes|salary|salaries|fee|fees|"
            r"price|spend|worth)\b|\bwhat(?:'s| is| are| does| do)\b.*\b(?:cost|costs|fee|fees|price|tuition)\b",
            re.I,
        ),
        re.compile(r"[$€£¥]|\b(?:USD|EUR|GBP|CAD|AUD|SGD)\b|\bdollars?\b|\bfree\b", re.I),
    ),
    (
        "number",
        re.compile(r"\bhow many\b", re.I),
        re.compile(
            r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozens?|hundreds?|thousands?|several|few)\b",
            re.I,
        ),
    ),
    (
        "duration",
        re.compile(r"\bhow long\b", re.I),
        re.compile(r"\d|\b(?:years?|months?|weeks?|days?|hours?|one|two|three|four|five|six|several|few)\b", re.I),
    ),
]
# Names in a question: acronyms and capitalised words after the first word.
ANCHOR_RE = re.compile(r"\b(?:[A-Z]{2,}[A-Za-z0-9-]*|[A-Z][a-z]+[A-Za-z0-9-]*)\b")
# "what's the next level after that?": a step along an ordered list (career
# levels, how-to steps) from the item the previous answer quoted.
NEXT_RE = re.compile(
    r"\b(?:next|following)\s+(?:level|step|stage|role|position|rung|job)\b|\bwhat comes (?:next|after)\b", re.I
)
PREVIOUS_RE = re.compile(r"\b(?:previous|prior|preceding)\s+(?:level|step|stage|role|position|rung|job)\b", re.I)
CONTINUATION_RE = re.compile(r"^(This|These|That|Those|They|It|Such|However|But|Also|In addition|As a result)\b")


class Thresholds(BaseModel):
    """Decision thresholds, calibrated on labelled questions (see ``coach eval --sweep``)."""

    # Below this cosine between the question and the closest unit, nothing in
    # the guide is about the question.
    dense_floor: float = 0.30
    # Unknown-term check: how much the match must improve once the words the
    # guide never uses are removed before the question counts as being about
    # something else (cross-encoder logits; dense cosine x 40 without it).
    ablation_gain: float = 2.0
    ablation_pool: int = 8
    # Extra sentences: within this margin of the best, and above a floor.
    rerank_margin: float = 4.0
    rerank_extra_min: float = -1.0
    dense_margin: float = 0.03
    # A follow-up asks for something new: the sentences just quoted rank lower.
    repeat_penalty: float = 0.1
    # A question that asks for an amount, number or duration is answered by
    # one of the best few sentences that contains one, or not at all.
    answer_type_pool: int = 5
    # Follow-ups: weight of the share of the follow-up's own words a sentence uses.
    followup_overlap: float = 0.1
    # Bonus for a sentence that names everything the question names
    # ("Australia", "RHIT"), and for one under a heading the question names
    # ("what are the pros?" -> "Pros"). Cross-encoder logits; dense x 1/40.
    anchor_bonus: float = 3.0
    heading_bonus: float = 2.0
    # Extra sentences stop at this many words in total.
    max_words: int = 80
    rerank_pool: int = 24


def clean_question(text: str) -> str:
    """Plain text: control characters dropped, whitespace collapsed, length capped."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    text = " ".join(text.split())
    return text[:MAX_QUESTION_CHARS].strip()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Coach:
    """Answers questions from one loaded index. Stateless: history is passed in."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        reranker: CrossEncoder | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.reranker = reranker if reranker is not None and reranker.available else None
        self.t = thresholds or Thresholds()

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        q = clean_question(question)
        if not re.search(r"\w", q):
            return Answer(question=question, query="", abstained=True, text=EMPTY_PROMPT, latency_ms=0.0)
        res = resolve(q, history or [])

        stepped = self._step_along(q, res) if res.followup else None
        if stepped is not None:
            stepped.latency_ms = round((time.perf_counter() - started) * 1000, 2)
            return stepped

        t0 = time.perf_counter()
        qvec = self.embedder.encode([res.query])[0]
        timings["embed"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        hits = retrieve(self.index, qvec, lexical.tokens(res.query))
        pids = [self.index.position[h.passage.id] for h in hits]
        pscores = [h.score for h in hits]
        focus = {self.index.position[p] for p in res.focus_passages if p in self.index.position}
        for pid in sorted(self._family(focus) - set(pids)):
            pids.append(pid)
            pscores.append(0.0)
        cands = candidate_units(self.index, qvec, pids, pscores)
        timings["retrieve"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        focus_paths = [self.index.passages[p].section for p in focus]
        repeated = set(res.already_quoted)
        own = self._own_words(q, res.query) if res.followup else set()
        for c in cands:
            c.score = c.dense + 0.05 * self._focus(c, focus, focus_paths)
            if own:
                c.score += self.t.followup_overlap * len(own & set(lexical.tokens(c.context))) / len(own)
            if (self.index.passages[c.passage].source, c.get(self.index).char_start) in repeated:
                c.score -= self.t.repeat_penalty
        anchors = self._anchors(q)
        qstems = set(lexical.tokens(q))
        for c in cands:
            c.score += self._bonus(c, anchors, qstems) / 40
        cands.sort(key=lambda c: -c.score)
        best_dense = cands[0].dense if cands else 0.0
        # Follow-ups are ranked by the dense score and the conversation's focus:
        # measured on the dev set, the cross-encoder reading the topic and the
        # follow-up glued together ranked worse (0.55 vs 0.82 follow-up hits).
        reranked = self.reranker is not None and bool(cands) and not res.followup
        if reranked:
            pool = cands[: self.t.rerank_pool]
            for c, s in zip(pool, self.reranker.score(res.query, [c.context for c in pool]), strict=True):
                c.logit = float(s)
                c.score = c.logit + self._bonus(c, anchors, qstems)
            cands = sorted(pool, key=lambda c: -c.score)
        timings["rerank"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        answer = self._compose(
            q, res.query if not res.followup else q, res.query, cands, hits, best_dense, reranked, anchors
        )
        timings["extract"] = (time.perf_counter() - t0) * 1000
        answer.timings_ms = {k: round(v, 2) for k, v in timings.items()}
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def _step_along(self, question: str, res) -> Answer | None:  # noqa: ANN001
        """Answer "the next/previous level" with the heading of the neighbouring item.

        Items are the sections one level below a common heading ("Career Path >
        Senior ...", "How to Become > Step 3"), in guide order.
        """
        step = 1 if NEXT_RE.search(question) else -1 if PREVIOUS_RE.search(question) else 0
        focus = [self.index.passages[self.index.position[p]] for p in res.focus_passages if p in self.index.position]
        if not step:
            return None
        wants_steps = bool(re.search(r"\b(?:step|stage)\b", question, re.I))
        # Prefer the quoted item of the kind asked about: "Step 3" for steps,
        # "Senior (4-7 years)" for levels.
        focus.sort(
            key=lambda p: len(p.section) < 3 or bool(re.match(r"(?i)step|stage|phase", p.section[2])) != wants_steps
        )
        for here in focus:
            if len(here.section) < 3:
                continue
            parent = here.section[:2]
            items: list[str] = []
            for p in self.index.passages:
                if (
                    p.source == here.source
                    and p.section[:2] == parent
                    and len(p.section) >= 3
                    and p.section[2] not in items
                ):
                    items.append(p.section[2])
            k = items.index(here.section[2]) + step
            if 0 <= k < len(items):
                break
        else:
            return None
        pid = next(
            i for i, p in enumerate(self.index.passages)
            if p.source == here.source and p.section[:3] == [*parent, items[k]]
        )  # fmt: skip
        passage = self.index.passages[pid]
        cand = Candidate(
            passage=pid, unit=0, context=unit_context(passage, passage.units[0]), dense=0.0, passage_score=0.0
        )
        answer = self._build(question, res.query, [cand], 0.8, [])
        answer.signals = {"stepped": float(step)}
        return answer

    def _anchors(self, question: str) -> list[str]:
        """Names the question uses that the guides also use, other than the guide's own title.

        "what do technicians earn in Australia?" -> ["Australia"]; "HIS techs"
        -> [] (the initials of the title "Health Information Systems ...").
        """
        out = []
        for m in ANCHOR_RE.finditer(question):
            w = m.group(0)
            if (m.start() == 0 and not w.isupper()) or w.lower() in lexical.STOPWORDS:
                continue
            if w.lower() in self._title_words or w.rstrip("s").upper() in self._title_words:
                continue
            if self.index.knows(w):
                out.append(w)
        return out

    @cached_property
    def _title_words(self) -> set[str]:
        """Words of the guide titles, and acronyms of their capitalised words (HIS, HIST)."""
        out: set[str] = set()
        for g in self.index.manifest.guides:
            words = re.findall(r"[A-Za-z]+", g.title)
            out |= {w.lower() for w in words}
            initials = "".join(w[0] for w in words if w[0].isupper())
            out |= {initials[i:j] for i in range(len(initials)) for j in range(i + 2, len(initials) + 1)}
        return out

    def _names_all(self, c: Candidate, anchors: list[str]) -> bool:
        context = c.context.lower()
        return all(re.search(r"\b" + re.escape(a.lower()), context) for a in anchors)

    def _bonus(self, c: Candidate, anchors: list[str], qstems: set[str]) -> float:
        """Cross-encoder-scale bonus for naming the question's names or sitting under its heading."""
        bonus = self.t.anchor_bonus if anchors and self._names_all(c, anchors) else 0.0
        leaf = set(lexical.tokens(self.index.passages[c.passage].section[-1]))
        if leaf and len(leaf) <= 4 and leaf <= qstems:
            bonus += self.t.heading_bonus
        return bonus

    @staticmethod
    def _own_words(question: str, query: str) -> set[str]:
        """Stems a follow-up adds to its topic ("and for a specialist?" -> {"specialist"})."""
        topic = set(lexical.tokens(query[: len(query) - len(question)]))
        return {lexical.stem(w) for w in subject_words(question)} - topic

    def _family(self, focus: set[int]) -> set[int]:
        """The focus passages and their neighbours in the same subsection."""
        family = set(focus)
        for pid in focus:
            for other in range(max(0, pid - 8), min(len(self.index.passages), pid + 9)):
                if self._related(self.index.passages[other].section, self.index.passages[pid].section):
                    family.add(other)
        return family

    @staticmethod
    def _related(a: list[str], b: list[str]) -> bool:
        """One heading path contains the other below the top level ("Career Path > Senior")."""
        short, long_ = (a, b) if len(a) <= len(b) else (b, a)
        return len(short) >= 3 and long_[: len(short)] == short

    def _focus(self, c: Candidate, focus: set[int], focus_paths: list[list[str]]) -> float:
        """1 for a passage the previous answer quoted, 0.5 for one in the same subsection."""
        if c.passage in focus:
            return 1.0
        path = self.index.passages[c.passage].section
        return 0.5 if any(self._related(path, fp) for fp in focus_paths) else 0.0

    # -- deciding ---------------------------------------------------------------

    def _unknown_words(self, question: str) -> list[str]:
        """Subject words of the question that the guides never use (everyday words aside)."""
        return [w for w in subject_words(question) if not self.index.knows(w) and not lexical.is_common(w)]

    def _ablation_gain(self, question: str, query: str, cands: list[Candidate], reranked: bool) -> float:
        """How much better the guide matches once the words it never uses are removed.

        A large gain means the question hinges on something the guide does not
        mention (a pharmacy technician's pay rather than this job's pay).
        """
        unknown = self._unknown_words(question)
        if not unknown or not cands:
            return 0.0
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in unknown) + r")\b", re.I)
        reduced = " ".join(pattern.sub(" ", query).split())
        if not re.search(r"\w", reduced):
            return float("inf")
        top = cands[: self.t.ablation_pool]
        if self.reranker is not None:
            texts = [c.context for c in top]
            # Reranked candidates already carry the probe's logits; follow-ups
            # were ranked densely, so score the probe here.
            with_words = max(c.logit for c in top) if reranked else float(self.reranker.score(query, texts).max())
            return float(self.reranker.score(reduced, texts).max() - with_words)
        vec = self.embedder.encode([reduced])[0]
        gain = max(
            float(self.index.unit_vectors[self.index.unit_start[c.passage] + c.unit].astype(np.float32) @ vec)
            for c in top
        )
        return (gain - max(c.dense for c in top)) * 40.0

    def _compose(
        self,
        question: str,
        probe: str,
        query: str,
        cands: list[Candidate],
        hits,
        best_dense: float,
        reranked: bool,
        anchors: list[str],
    ) -> Answer:  # noqa: ANN001
        suggestions = list(dict.fromkeys(" > ".join(h.passage.section[1:]) or h.passage.title for h in hits))[:3]
        signals = {"best_dense": round(best_dense, 4)}
        if not cands or best_dense < self.t.dense_floor:
            return self._abstain(question, query, suggestions, 0.05, signals)
        gain = self._ablation_gain(question, probe, cands, reranked)
        signals["unknown_gain"] = round(min(gain, 99.0), 3)
        if gain > self.t.ablation_gain:
            return self._abstain(question, query, suggestions, 0.2, signals)
        wanted = next((need for _, asks, need in ANSWER_TYPES if asks.search(question)), None)
        if wanted is not None:
            typed = [
                c
                for c in cands[: self.t.answer_type_pool]
                if wanted.search(c.get(self.index).text) and self._names_all(c, anchors)
            ]
            if not typed:
                signals["answer_type_missing"] = 1.0
                return self._abstain(question, query, suggestions, 0.2, signals)
            cands = typed + [c for c in cands[self.t.answer_type_pool :] if wanted.search(c.get(self.index).text)]
        best = cands[0]
        if reranked:
            margin, floor = self.t.rerank_margin, best.score - self.t.rerank_margin
            floor = max(floor, self.t.rerank_extra_min)
        else:
            margin = self.t.dense_margin
            floor = best.score - margin
        chosen = [best]
        words = len(best.get(self.index).text.split())
        for c in cands[1:]:
            if len(chosen) == 3 or c.score < floor:
                break
            text = c.get(self.index).text
            if any(text == x.get(self.index).text for x in chosen):
                continue
            if words + len(text.split()) > self.t.max_words:
                continue
            chosen.append(c)
            words += len(text.split())
        chosen = self._continuation(chosen, words)
        chosen.sort(key=lambda c: (self.index.passages[c.passage].source, c.get(self.index).char_start))
        conf = 0.5 + 0.5 * min(1.0, (best_dense - self.t.dense_floor) / 0.3)
        if reranked:
            conf = 0.5 * conf + 0.5 * _sigmoid(best.score / 2)
        answer = self._build(question, query, chosen, conf, suggestions)
        answer.signals = signals
        return answer

    def _continuation(self, chosen: list[Candidate], words: int) -> list[Candidate]:
        """Add the next sentence of the best one's paragraph when it visibly continues it."""
        if len(chosen) >= 3:
            return chosen
        best = chosen[0]
        passage = self.index.passages[best.passage]
        nxt = best.unit + 1
        if nxt >= len(passage.units):
            return chosen
        unit = passage.units[nxt]
        same_block = unit.block == passage.units[best.unit].block and unit.kind == "sentence"
        if not same_block or not CONTINUATION_RE.match(unit.text):
            return chosen
        if any(c.passage == best.passage and c.unit == nxt for c in chosen):
            return chosen
        if words + len(unit.text.split()) > self.t.max_words:
            return chosen
        extra = best.model_copy(update={"unit": nxt, "score": best.score})
        return [*chosen, extra]

    # -- building ---------------------------------------------------------------

    def _abstain(
        self, question: str, query: str, suggestions: list[str], conf: float, signals: dict[str, float]
    ) -> Answer:
        where = "; ".join(suggestions)
        text = "The guide does not cover that."
        if where:
            text += f" The closest sections it does cover: {where}."
        return Answer(
            question=question,
            query=query,
            abstained=True,
            text=text,
            confidence=round(conf, 3),
            suggestions=suggestions,
            signals=signals,
        )

    def _build(self, question: str, query: str, chosen: list[Candidate], conf: float, suggestions: list[str]) -> Answer:
        markers: dict[int, int] = {}
        citations: list[Citation] = []
        sentences: list[AnswerSentence] = []
        for c in chosen:
            passage = self.index.passages[c.passage]
            if c.passage not in markers:
                markers[c.passage] = len(markers) + 1
                citations.append(
                    Citation(
                        marker=markers[c.passage],
                        passage_id=passage.id,
                        source=passage.source,
                        title=passage.title,
                        section=passage.section,
                        text=passage.text,
                        char_start=passage.char_start,
                        char_end=passage.char_end,
                        score=round(c.score, 4),
                    )
                )
            unit: Unit = passage.units[c.unit]
            sentences.append(
                AnswerSentence(
                    text=unit.text,
                    citation=markers[c.passage],
                    char_start=unit.char_start,
                    char_end=unit.char_end,
                    kind=unit.kind,
                    columns=unit.columns,
                    cells=unit.cells,
                )
            )
        text = " ".join(f"{' '.join(s.text.split())} [{s.citation}]" for s in sentences)
        return Answer(
            question=question,
            query=query,
            abstained=False,
            text=text,
            sentences=sentences,
            citations=citations,
            confidence=round(conf, 3),
            suggestions=suggestions,
        )


def history_turn(answer: Answer) -> Turn:
    """What a later follow-up needs from this answer."""
    return Turn(
        question=answer.question,
        query=answer.query,
        standalone=answer.query == clean_question(answer.question),
        passage_ids=[c.passage_id for c in answer.citations],
        quoted=[(c.source, s.char_start) for s in answer.sentences for c in answer.citations if c.marker == s.citation],
        abstained=answer.abstained,
    )
