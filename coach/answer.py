"""Extractive answers: the 1-3 guide units that answer a question, with citations.

The answer path is a row of stages, each with a typed input and output::

    clean -> resolve follow-up (evidence) -> embed -> hybrid retrieve passages
      -> candidates (units with their guide title and heading path)
      -> features (coach/features.py) -> first-stage model picks what the cross-encoder reads
      -> cross-encoder -> ranker model -> answerable probability (coach/model.py)
      -> abstain, or compose 1-3 units (a list introduction brings its items) -> Answer

No text is generated: every quoted unit is a verbatim slice of a guide. No
weight or threshold is set here: they come from the fitted answer model.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict

from coach import lexical
from coach.adapter import adapt
from coach.adapter import unpack as unpack_adapter
from coach.chunk import heading_text, unit_context
from coach.conversation import (
    Resolution,
    Turn,
    contextual_query,
    followup_evidence,
    is_followup,
    resolve,
    subject_spans,
    subject_words,
    topic_of,
)
from coach.embed import Embedder
from coach.examples import NO_VOTE, Elsewhere
from coach.features import (
    CANDIDATE_FEATURES,
    QUESTION_FEATURES,
    asked_extreme,
    asked_types,
    candidate_row,
    is_list_intro,
    names,
    pool_relative,
    question_row,
    subject_weights,
    table_ends,
    unknown_words,
)
from coach.index import Index
from coach.late import LateReader
from coach.model import AnswerModel, load_model
from coach.prior import read_prior
from coach.reader import tuned_reader
from coach.records import Answer, AnswerSentence, Citation, Hit, Passage, Unit
from coach.rerank import ANSWERING, CrossEncoder
from coach.retrieve import (
    Candidate,
    candidate_units,
    career_initials,
    check_guide,
    dense_search,
    expand_initials,
    guide_vocabulary,
    missing_career,
    named_guide,
    retrieve,
)
from coach.settings import MAX_QUESTION_CHARS
from coach.spelling import correct_question

log = logging.getLogger(__name__)

EMPTY_PROMPT = "Please type a question about the career guide, for example: What does this job pay?"
# "what's the next level after that?": a step along an ordered list (career
# levels, how-to steps) from the item the previous answer quoted.
NEXT_RE = re.compile(
    r"\b(?:next|following)\s+(?:level|step|stage|role|position|rung|job)\b|\bwhat comes (?:next|after)\b", re.I
)
PREVIOUS_RE = re.compile(r"\b(?:previous|prior|preceding)\s+(?:level|step|stage|role|position|rung|job)\b", re.I)
CONTINUATION_RE = re.compile(r"^(This|These|That|Those|They|It|Such|However|But|Also|In addition|As a result)\b")
LIST_KINDS = ("bullet", "item", "table_row", "fact")
MAX_LIST_ITEMS = 8
"""Items looked at after a list introduction (the answer quotes as many as fit)."""


def clean_question(text: str) -> str:
    """Plain text: control characters dropped, whitespace collapsed, length capped."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    text = " ".join(text.split())
    return text[:MAX_QUESTION_CHARS].strip()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


class Analysis(BaseModel):
    """Everything one question yields before the decision: what training and the answer path share."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    question: str
    res: Resolution
    hits: list[Hit]
    candidates: list[Candidate]
    """Best first, by ``scores``."""
    rows: np.ndarray
    """Candidate feature rows (``CANDIDATE_FEATURES``), aligned with ``candidates``."""
    scores: np.ndarray
    """Ranker log-odds (first-stage log-odds when nothing was reranked)."""
    qrow: list[float]
    """Question features (``QUESTION_FEATURES``) for the abstention model."""
    qrow_first: list[float]
    """Question features from the first-stage scores (the no-cross-encoder path)."""
    reranked: bool
    searched: str = ""
    """The text whose vector searched the guide (the question, or the question with its topic)."""
    qvec: np.ndarray | None = None
    """That vector."""
    evidence: dict[str, float] = {}
    """For a later turn: whether it leans on the conversation (``conversation.followup_evidence``)."""
    timings: dict[str, float] = {}


class _Asked(NamedTuple):
    """A question prepared once for either reading: corrected, embedded, with its follow-up evidence."""

    asked: str
    q: str
    subject: list[str]
    unknown: list[str]
    vecs: np.ndarray
    texts: list[str]
    evidence: dict[str, float]
    rules_followup: bool
    knows: Callable[[str], bool]
    embed_ms: float
    tvec: np.ndarray | None
    """The topic question's vector (``dense_topic``; None without a conversation)."""


_ELSEWHERE: dict[tuple[int, int], tuple[AnswerModel, Embedder, Elsewhere]] = {}
_ELSEWHERE_LOCK = threading.Lock()


class Coach:
    """Answers questions from one loaded index. Stateless: history is passed in."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        reranker: CrossEncoder | None = None,
        model: AnswerModel | None = None,
        late: LateReader | None = None,
    ) -> None:
        """``late`` defaults to the late-interaction reader beside ``reranker``'s model.

        The two read together: without either model (not installed, or
        ``COACH_RERANKER=0``) the coach answers from the first stage alone
        (``AnswerModel.first_plain``), as the answer model was fitted for.
        """
        self.index = index
        self.embedder = embedder
        reranker = reranker if reranker is not None and reranker.available else None
        if late is None and reranker is not None:
            late = LateReader.beside(reranker.model_dir)
        late = late if late is not None and late.available else None
        self.reranker = reranker if late is not None else None
        self.late = late if reranker is not None else None
        self.model = model or load_model()
        self._adapter: tuple[AnswerModel, Embedder, np.ndarray | None] | None = None
        self._read_ahead: set[str | None] = set()
        self._read_ahead_lock = threading.Lock()
        self._tables: dict[int, tuple[bool, bool] | None] = {}
        """``_table_ends`` of each table row read so far, by its place among the index's units."""

    def reader(self) -> CrossEncoder | None:
        """The cross-encoder the answer model reads with: the tuned one it names, or ``reranker``."""
        ref = self.model.reader
        if ref is None or self.reranker is None:
            return self.reranker
        return tuned_reader(self.reranker, self.model.reader_file(), ref.sha256)

    def ask(self, question: str, history: list[Turn] | None = None, guide: str | None = None) -> Answer:
        """Answer ``question``; ``guide`` (a file name in the corpus) scopes it to one guide.

        Without ``guide``, a question that names the career of one guide of
        several is answered from that guide (``Answer.guide`` says which).
        """
        with ANSWERING:
            return self._ask(question, history, guide)

    def read_ahead(self, guide: str | None = None) -> threading.Thread | None:
        """Let the late reader read ``guide``'s units and passages in a background thread, so the
        first questions on it do not pay their encoding (about 12 ms a unit, ~1 s for a first
        question). Without ``guide``, the index's only guide; with several, nothing (no guess
        at which one the next question is about). Questions go first: the thread waits while
        any coach of the process answers one. It stops when the reader's kept texts fill half
        its budget. Once per guide; None when there is nothing to do."""
        if self.late is None or (guide is None and len(self.index.manifest.guides) > 1):
            return None
        with self._read_ahead_lock:
            if guide in self._read_ahead:
                return None
            self._read_ahead.add(guide)
        texts = [
            text
            for p in self.index.passages
            if guide is None or p.source == guide
            for text in (*(unit_context(p, u) for u in p.units), self._passage_text(p))
        ]
        thread = threading.Thread(target=self._read_texts, args=(texts,), name="late-read-ahead", daemon=True)
        thread.start()
        return thread

    def _read_texts(self, texts: list[str]) -> None:
        from coach.errors import CoachError

        try:
            for text in texts:
                while ANSWERING:
                    time.sleep(0.05)
                if not self.late.keep(text):
                    return
        except CoachError:
            return  # the model cannot be read: the question that needs it says so
        except Exception as exc:  # noqa: BLE001 - a background nicety must not print a traceback
            log.warning("Reading the guide ahead stopped: %s", exc)

    def _ask(self, question: str, history: list[Turn] | None, guide: str | None) -> Answer:
        started = time.perf_counter()
        guide = check_guide(self.index, guide)
        q = clean_question(question)
        if not re.search(r"\w", q):
            return Answer(question=question, query="", abstained=True, text=EMPTY_PROMPT, latency_ms=0.0, guide=guide)
        history = history or []
        guide = guide or named_guide(self.index, q)
        if guide is None and len(self.index.manifest.guides) > 1:
            career = missing_career(self.index, q)
            if career is not None:
                return self._abstain(question, q, [], 0.0, {"missing_career": 1.0}, career=career)
        asked = self._prepare(q, history, guide)
        followup = asked.rules_followup and bool(history)
        a = self._read(asked, history, followup, False, guide)
        if a.res.followup:
            stepped = self._step_along(q, a.res)
            if stepped is not None:
                stepped.latency_ms = round((time.perf_counter() - started) * 1000, 2)
                stepped.guide = guide
                return stepped

        read_alone: list[Analysis] = []

        def alone() -> Analysis:
            if not read_alone:
                t0 = time.perf_counter()
                read_alone.append(self._read(asked, history, False, False, guide))
                a.timings["alone"] = (time.perf_counter() - t0) * 1000
            return read_alone[0]

        t0 = time.perf_counter()
        # A follow-up is also read alone: "and how much experience is that?" may be answered
        # outside its topic, so what the question alone finds with confidence may fill the
        # extra places. (A new topic is answered as if asked first.)
        answer = self.decide(a, alone if followup else None)
        if followup and answer.abstained:
            # Read with its topic the guide does not cover it; read alone it may stand on its
            # own ("ok different question, what do the lowest paid electricians make?"), and
            # then its own confident answer is given, under the same abstention model and cut,
            # unless its best unit is what the conversation just quoted (no answer to a new question).
            other = alone()
            repeats = bool(other.candidates) and self._quoted_key(other.candidates[0]) in set(a.res.already_quoted)
            on_its_own = None if repeats else self.decide(other)
            if on_its_own is not None and not on_its_own.abstained:
                on_its_own.signals["read_alone"] = 1.0
                on_its_own.signals["p_answer_with_topic"] = answer.signals.get("p_answer", 0.0)
                answer = on_its_own
        answer.guide = guide
        a.timings["extract"] = (time.perf_counter() - t0) * 1000 - a.timings.get("alone", 0.0)
        answer.timings_ms = {k: round(v, 2) for k, v in a.timings.items()}
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    # -- evidence -----------------------------------------------------------------

    def analyze(
        self,
        q: str,
        history: list[Turn],
        full_pool: bool = False,
        guide: str | None = None,
        as_followup: bool | None = None,
    ) -> Analysis:
        """Candidates with their features and scores for the cleaned question ``q``.

        ``full_pool`` has the cross-encoder read every candidate (training),
        instead of the few the first-stage model ranks highest. ``as_followup``
        fixes the reading of a later turn (with its topic, or alone); by
        default ``conversation.is_followup`` decides.
        """
        asked = self._prepare(q, history, guide)
        followup = asked.rules_followup if as_followup is None else as_followup
        return self._read(asked, history, followup and bool(history), full_pool, guide)

    def _prepare(self, q: str, history: list[Turn], guide: str | None) -> _Asked:
        """The question read as the guide's words, embedded alone and with its topic; the follow-up evidence."""
        t0 = time.perf_counter()
        # Scoped to one guide, a word only another guide uses is still unknown.
        vocabulary = guide_vocabulary(self.index, guide) if guide else self.index
        knows = vocabulary.knows
        # What is searched is the question with its typos read as the guide's
        # words ("apprentiship") and the initials of its career spelt out ("OTs");
        # the audit keeps the question as asked.
        spelt = expand_initials(q, career_initials(self.index, guide), knows)
        asked, q = q, correct_question(spelt, vocabulary.words, knows)
        subject = subject_words(q)
        unknown = unknown_words(subject, knows)
        ctx = contextual_query(q, history) if history else None
        texts = [q] + ([ctx] if ctx else [])
        if unknown:
            drop = re.compile(r"\b(" + "|".join(re.escape(w) for w in unknown) + r")\b", re.I)
            texts += [" ".join(drop.sub(" ", t).split()) or "?" for t in texts]
        # The topic question alone (``dense_topic``), embedded with the rest.
        topic = topic_of(history).query if ctx else None
        vecs = self.embedder.encode(texts + ([topic] if topic else []))
        vecs, tvec = (vecs[:-1], vecs[-1]) if topic else (vecs, None)
        rules_followup = False
        evidence: dict[str, float] = {}
        if ctx:
            # Evidence, not a word count: does the guide match the question
            # better with the topic it would continue than alone?
            alone = dense_search(self.index, vecs[0], 1, guide)
            joined = dense_search(self.index, vecs[1], 1, guide)
            gain = joined[0][1] - alone[0][1] if joined and alone else 0.0
            evidence = followup_evidence(q, topic, gain)
            rules_followup = is_followup(q, lambda: gain > 0, topic)
        embed_ms = (time.perf_counter() - t0) * 1000
        return _Asked(asked, q, subject, unknown, vecs, texts, evidence, rules_followup, knows, embed_ms, tvec)

    def _read(self, asked: _Asked, history: list[Turn], followup: bool, full_pool: bool, guide: str | None) -> Analysis:
        """Retrieve, build candidate rows and rank them under one reading (with the topic, or alone)."""
        q, subject, unknown, vecs, knows = asked.q, asked.subject, asked.unknown, asked.vecs, asked.knows
        timings: dict[str, float] = {"embed": asked.embed_ms}
        res = resolve(q, history, followup)
        k = 1 if followup else 0
        qvec, avec = vecs[k], vecs[0]
        reduced = vecs[len(vecs) // 2 + k] if unknown else None

        t0 = time.perf_counter()
        hits = retrieve(self.index, qvec, lexical.tokens(res.query), guide=guide)
        pids = [self.index.position[h.passage.id] for h in hits]
        pscores = [h.score for h in hits]
        plex = [h.lexical for h in hits]
        if followup:
            # What the new question finds on its own stays in view too: "and
            # how much experience is that?" may be answered outside the topic.
            for h in retrieve(self.index, avec, lexical.tokens(q), guide=guide):
                if (pid := self.index.position[h.passage.id]) not in pids:
                    pids.append(pid)
                    pscores.append(0.0)
                    plex.append(0.0)
        focus = {self.index.position[p] for p in res.focus_passages if p in self.index.position}
        family = self._family(focus)
        for pid in sorted(family - set(pids)) + self._next_passages(focus, family | set(pids)):
            pids.append(pid)
            pscores.append(0.0)
            plex.append(0.0)
        cands = candidate_units(self.index, qvec, pids, pscores, plex)
        timings["retrieve"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        ctx_q = _QuestionContext(
            q,
            subject,
            res,
            focus,
            self.index,
            qvec,
            avec,
            self.elsewhere(),
            adapt(qvec, self.adapter()),
            tvec=asked.tvec if followup else None,
        )
        late, cover, pool_cover = self._read_late(res.query, cands)
        rows = self._rows(cands, ctx_q, late=late, cover=cover)
        first = (self.model.first if self.late else self.model.first_plain).decision(rows, CANDIDATE_FEATURES)
        order = np.argsort(-first, kind="stable")
        cands = [cands[i] for i in order]
        rows, first = rows[order], first[order]
        late = late[order] if late is not None else None
        cover = cover[order] if cover is not None else None
        gain = self._unknown_gain(cands, qvec, reduced)
        qnames = names(q)
        unknown_names = sum(not knows(n) for n in qnames) / len(qnames) if qnames else 0.0
        # Was a question like this answered on other guides, or is it a request no guide answers?
        vote = self.elsewhere().vote(qvec, self.index.passages[cands[0].passage].title) if cands else NO_VOTE
        # How often guides answer questions of this kind (``coach.prior``).
        prior = read_prior(self.model.question_prior, qvec, (self.embedder.model_id, self.embedder.dimension))
        common = dict(
            unknown=unknown, subject=subject, unknown_gain=gain, unknown_names=unknown_names,
            wanted=ctx_q.wanted, followup=followup, cover=pool_cover, vote=vote, prior=prior,
        )  # fmt: skip
        qrow_first = question_row(scores=first, rows=rows, **common) if cands else []
        scores = first
        reranked = self.reranker is not None and bool(cands)
        if reranked:
            if not full_pool:
                cands = cands[: self.model.thresholds.pool]
                late = late[: len(cands)] if late is not None else None
                cover = cover[: len(cands)] if cover is not None else None
            logits = self.reader().score(res.query, [c.context for c in cands])
            for c, lg in zip(cands, logits, strict=True):
                c.logit = float(lg)
            passages = None
            if self.late is not None:
                texts = [self._passage_text(self.index.passages[c.passage]) for c in cands]
                passages = self.late.score(res.query, texts)
            # Training (``full_pool``) keeps every row; ``coach.train`` recomputes
            # the pool-relative columns over the pool its first-stage model keeps.
            rows = self._rows(cands, ctx_q, logits, late, passages, cover)
            scores = self.model.ranker.decision(rows, CANDIDATE_FEATURES)
            # The abstention reads the pool as ranked without the late columns (``PLAIN_RANKER``).
            plain = self.model.plain_ranker.decision(rows, CANDIDATE_FEATURES)
            by_plain = np.argsort(-plain, kind="stable")
            # How sure the cross-encoder got of the answers to questions like this on other guides.
            usual = self.elsewhere().usual_logits(qvec, self.index.passages[cands[0].passage].title)
            qrow = question_row(scores=plain[by_plain], rows=rows[by_plain], **common, usual=usual)
            order = np.argsort(-scores, kind="stable")
            cands = [cands[i] for i in order]
            rows, scores = rows[order], scores[order]
        for c, s in zip(cands, scores, strict=True):
            c.score = float(s)
        if not reranked:
            qrow = question_row(scores=scores, rows=rows, **common) if cands else []
        timings["rerank"] = (time.perf_counter() - t0) * 1000
        return Analysis(
            question=asked.asked, res=res, hits=hits, candidates=cands, rows=rows, scores=scores,
            qrow=qrow, qrow_first=qrow_first, reranked=reranked, searched=asked.texts[k], qvec=qvec,
            evidence=asked.evidence, timings=timings,
        )  # fmt: skip

    def _rows(
        self,
        cands: list[Candidate],
        qc: _QuestionContext,
        logits: np.ndarray | None = None,
        late: np.ndarray | None = None,
        late_passages: np.ndarray | None = None,
        cover: np.ndarray | None = None,
    ) -> np.ndarray:
        """Feature rows of ``cands``, the pool-relative columns computed over exactly these candidates."""
        if not cands:
            return np.zeros((0, len(CANDIDATE_FEATURES)))
        heads = self.index.heading_vectors
        out = []
        for k, c in enumerate(cands):
            passage = self.index.passages[c.passage]
            unit = passage.units[c.unit]
            hsim = float(heads[c.passage].astype(np.float32) @ qc.qvec) if heads is not None else 0.0
            uvec = self.index.unit_vectors[self.index.unit_start[c.passage] + c.unit].astype(np.float32)
            out.append(
                candidate_row(
                    unit_text=unit.text, context=c.context, kind=unit.kind, unit_pos=c.unit,
                    heading=heading_text(passage), heading_sim=hsim,
                    after_question_sim=self._after_question(c, qc.qvec), dense=c.dense,
                    dense_alone=float(uvec @ qc.avec), answer_like=qc.answer_like(passage.title, uvec),
                    dense_topic=float(uvec @ qc.tvec) if qc.tvec is not None else None,
                    dense_adapted=float(uvec @ qc.adapted),
                    bm25=c.lexical, passage_rank=c.passage_rank,
                    logit=float(logits[k]) if logits is not None else None,
                    late=float(late[k]) if late is not None else 0.0,
                    late_passage=float(late_passages[k]) if late_passages is not None else None,
                    late_cover=float(cover[k]) if cover is not None else 0.0,
                    qstems=qc.qstems, subject=qc.subject, qnames=qc.qnames, wanted=qc.wanted,
                    focus=self._focus(c, qc.focus, qc.focus_paths),
                    repeat=(passage.source, unit.char_start) in qc.repeated,
                    after_quoted=qc.after_quoted(passage.source, self.index.unit_start[c.passage] + c.unit),
                    extreme=qc.extreme, ends=self._table_ends(c.passage, c.unit) if qc.extreme else None,
                )
            )  # fmt: skip
        return pool_relative(np.asarray(out, dtype=np.float64), has_logits=logits is not None)

    def elsewhere(self) -> Elsewhere:
        """The answer model's labelled questions, ready to vote (``coach.examples``); made once a
        process for each model and embedder (``service.open_coach`` does it at start-up)."""
        key = (id(self.model), id(self.embedder))
        with _ELSEWHERE_LOCK:
            hit = _ELSEWHERE.get(key)
            if hit is None or hit[0] is not self.model or hit[1] is not self.embedder:
                m, e = self.model, self.embedder
                made = Elsewhere.of(
                    m.examples, m.example_vectors, (e.model_id, e.dimension), e.encode, m.answer_vectors
                )
                hit = _ELSEWHERE[key] = (m, e, made)
                while len(_ELSEWHERE) > 8:  # models refitted in one process (coach eval --cv) come and go
                    del _ELSEWHERE[next(iter(_ELSEWHERE))]
            return hit[2]

    def adapter(self) -> np.ndarray | None:
        """The answer model's question map for this embedder (``coach.adapter``; None when it has
        none, or made it for another embedder), read from the model once."""
        hit = self._adapter
        if hit is None or hit[0] is not self.model or hit[1] is not self.embedder:
            e = self.embedder
            hit = self._adapter = (self.model, e, unpack_adapter(self.model.adapter, (e.model_id, e.dimension)))
        return hit[2]

    def _read_late(self, query: str, cands: list[Candidate]) -> tuple[np.ndarray | None, np.ndarray | None, float]:
        """The late reader's score of each candidate, each candidate's cover of the query's
        worst-covered subject word, and that word's best cover by any candidate (covers are 1
        when the query has no subject word; (None, None, 0) without the reader)."""
        if self.late is None or not cands:
            return None, None, 0.0
        late, by_word = self.late.read(query, [c.context for c in cands], subject_spans(query))
        if not by_word.shape[1]:
            return late, np.ones(len(cands)), 1.0
        return late, by_word.min(axis=1), float(by_word.max(axis=0).min())

    @staticmethod
    def _passage_text(passage: Passage) -> str:
        """A passage as the late-interaction reader reads it: its units' quotes in order."""
        return " ".join(u.text for u in passage.units)

    def _after_question(self, c: Candidate, qvec: np.ndarray) -> float:
        """Cosine of the question with the guide's own question this unit answers (an FAQ line before it)."""
        if c.unit == 0:
            return 0.0
        prev = self.index.passages[c.passage].units[c.unit - 1]
        if not prev.text.rstrip().endswith("?"):
            return 0.0
        vec = self.index.unit_vectors[self.index.unit_start[c.passage] + c.unit - 1].astype(np.float32)
        return float(vec @ qvec)

    def _unknown_gain(self, cands: list[Candidate], qvec: np.ndarray, reduced: np.ndarray | None) -> float:
        """How much closer the best units come once the words the guide never uses are dropped.

        A large gain means the question hinges on something the guide does not
        mention (a pharmacist's pay rather than this job's pay). A loss says
        nothing (with every subject word unknown, what is left, "how do I
        my?", matches nothing), so it counts as no gain.
        """
        if reduced is None or not cands:
            return 0.0
        top = cands[:8]
        vecs = np.stack([self.index.unit_vectors[self.index.unit_start[c.passage] + c.unit] for c in top])
        vecs = vecs.astype(np.float32)
        return max(0.0, float((vecs @ reduced).max() - (vecs @ qvec).max()))

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
            items = self.index.items[(here.source, tuple(parent))]
            k = items.index(here.section[2]) + step
            if 0 <= k < len(items):
                break
        else:
            return None
        pid = self.index.item_start[(here.source, (*parent, items[k]))]
        passage = self.index.passages[pid]
        cand = Candidate(
            passage=pid, unit=0, context=unit_context(passage, passage.units[0]), dense=0.0, passage_score=0.0
        )
        answer = self._build(question, res.query, [cand], 0.8, [])
        answer.signals = {"stepped": float(step)}
        answer.followup = res.followup
        return answer

    def _family(self, focus: set[int]) -> set[int]:
        """The focus passages and their neighbours in the same subsection."""
        family = set(focus)
        for pid in focus:
            for other in range(max(0, pid - 8), min(len(self.index.passages), pid + 9)):
                if self._related(self.index.passages[other].section, self.index.passages[pid].section):
                    family.add(other)
        return family

    def _next_passages(self, focus: set[int], known: set[int]) -> list[int]:
        """The passage after each focus passage in its guide ("what comes after that?"), if not in ``known``."""
        ps = self.index.passages
        nxt = {p + 1 for p in focus if p + 1 < len(ps) and ps[p + 1].source == ps[p].source}
        return sorted(nxt - known)

    def _table_ends(self, pid: int, unit: int) -> tuple[bool, bool] | None:
        """``features.table_ends`` for a table row (its table may run on over the passages of its
        section: units of one table share a block number); None for any other unit. Worked out
        once per table row."""
        key = self.index.unit_start[pid] + unit
        if key not in self._tables:
            ps = self.index.passages
            u = ps[pid].units[unit]
            if u.kind != "table_row":
                return None

            def holds(p: int) -> bool:
                return (
                    0 <= p < len(ps) and ps[p].source == ps[pid].source and any(x.block == u.block for x in ps[p].units)
                )

            first = pid
            while holds(first - 1):
                first -= 1
            where: list[int] = []
            rows: list[list[str]] = []
            p = first
            while holds(p):
                for j, x in enumerate(ps[p].units):
                    if x.block == u.block and x.kind == "table_row":
                        where.append(self.index.unit_start[p] + j)
                        rows.append(x.cells or [x.text])
                p += 1
            for k, ends in zip(where, table_ends(rows), strict=True):
                self._tables.setdefault(k, ends)
        return self._tables[key]

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

    def decide(self, a: Analysis, alone: Callable[[], Analysis] | None = None) -> Answer:
        """Abstain or compose, from the model's probabilities.

        ``alone`` reads a follow-up without its topic (``_ask``): the abstention is
        the follow-up reading's, and that reading's units fill the extra places its own
        extras leave. It is called only when there is such a place.
        """
        answer = self._decide(a, alone)
        answer.followup = a.res.followup
        return answer

    def _decide(self, a: Analysis, alone: Callable[[], Analysis] | None) -> Answer:
        suggestions = list(dict.fromkeys(" > ".join(h.passage.section[1:]) or h.passage.title for h in a.hits))[:3]
        t = self.model.thresholds
        if not a.candidates:
            return self._abstain(a.question, a.res.query, suggestions, 0.0, {})
        if a.reranked:
            p_answer = float(self.model.answerable.proba(np.asarray([a.qrow]), QUESTION_FEATURES)[0])
            cutoff = t.abstain_below
        else:
            p_answer = float(self.model.answerable_first.proba(np.asarray([a.qrow_first]), QUESTION_FEATURES)[0])
            cutoff = t.abstain_below_first
        signals = {f: round(v, 4) for f, v in zip(QUESTION_FEATURES, a.qrow, strict=True)}
        signals["p_answer"] = round(p_answer, 4)
        if p_answer < cutoff:
            return self._abstain(a.question, a.res.query, suggestions, p_answer, signals)

        def extra() -> list[Candidate]:
            other = alone() if alone is not None else None
            if other is None or other.reranked != a.reranked:
                return []
            # What the conversation just quoted is no news to a question read alone.
            quoted = set(other.res.already_quoted) | set(a.res.already_quoted)
            return [c for c in other.candidates if self._quoted_key(c) not in quoted]

        chosen = self._compose(a.candidates, extra if alone is not None else None)
        answer = self._build(a.question, a.res.query, chosen, p_answer, suggestions)
        answer.signals = signals
        return answer

    def _quoted_key(self, c: Candidate) -> tuple[str, int]:
        """How a conversation's history names a quoted unit: its guide and first character."""
        return self.index.passages[c.passage].source, c.get(self.index).char_start

    def _compose(self, ranked: list[Candidate], extra: Callable[[], list[Candidate]] | None = None) -> list[Candidate]:
        """The best unit, then confident extras (or a list introduction's items), within the word budget.

        ``extra`` gives the other reading's candidates: they fill the places ``ranked``'s
        own confident extras leave, best first (asked for only when a place is left).
        """
        t = self.model.thresholds
        best = ranked[0]
        chosen = [best]
        words = len(best.get(self.index).text.split())
        items = self._list_items(best)
        if items:
            fit, words = self._fitting(items, chosen, words)
            chosen += fit
            # A paragraph's first sentence, or a one-item list, leaves places to confident extras.
            self._add_extras(chosen, words, ranked[1:])
        else:
            words = self._add_extras(chosen, words, ranked[1:])
            chosen = self._continuation(chosen, words)
            # The other reading only fills places its own reading left.
            words = sum(len(c.get(self.index).text.split()) for c in chosen)
            if extra is not None and len(chosen) < 3 and words < t.max_words:
                self._add_extras(chosen, words, extra())
        # The best unit's passage leads (its units in reading order, so a continued
        # sentence or a list reads as written); units from other passages follow in
        # rank order, so a weak extra never opens the answer.
        rank = {}
        for k, c in enumerate(chosen):
            rank.setdefault(c.passage, k)
        chosen.sort(key=lambda c: (rank[c.passage], c.get(self.index).char_start))
        return chosen

    def _add_extras(self, chosen: list[Candidate], words: int, ranked: list[Candidate]) -> int:
        """Append the confident ``ranked`` units that fit to ``chosen``; the words it then has."""
        t = self.model.thresholds
        for c in sorted(ranked, key=lambda c: -c.score):
            if len(chosen) == 3 or _sigmoid(c.score) < t.extra_min:
                break
            text = c.get(self.index).text
            n = len(text.split())
            if any(text == x.get(self.index).text for x in chosen) or words + n > t.max_words:
                continue
            if is_list_intro(text):  # says nothing without its items
                continue
            chosen.append(c)
            words += n
        return words

    def _list_items(self, best: Candidate) -> list[Candidate]:
        """What a list introduction ("Key responsibilities include:") leads into: its list's items,
        or, when no list follows, the first sentence of the paragraph it introduces ("Thermofluid
        Mechanics:" over the paragraph about them; the answer's other places stay the ranking's).

        The list may go on in the next passages of the section, and may start under a heading
        below the introduction's ("Here's a closer look at what they do:" over "Planning and Design").
        """
        passage = self.index.passages[best.passage]
        if not is_list_intro(passage.units[best.unit].text):
            return []
        out: list[Candidate] = []
        below = passage.section
        pid, j = best.passage, best.unit + 1
        while len(out) < MAX_LIST_ITEMS:
            if j >= len(passage.units):
                nxt = self.index.passages[pid + 1] if pid + 1 < len(self.index.passages) else None
                if nxt is None or nxt.source != passage.source:
                    break
                # A long list goes on in the next passage of the same section; before its first
                # item, the next passage may be a sub-section.
                nested = not out and len(nxt.section) > len(below) and nxt.section[: len(below)] == below
                if nxt.section != passage.section and not nested:
                    break
                pid, passage, j = pid + 1, nxt, 0
                continue
            unit = passage.units[j]
            if unit.kind == "heading" and not out:  # a table's header row: its rows follow
                j += 1
                continue
            item = best.model_copy(update={"passage": pid, "unit": j, "context": unit_context(passage, unit)})
            if unit.kind not in LIST_KINDS:
                if not out and unit.kind == "sentence" and not is_list_intro(unit.text):
                    out.append(item)  # no list: the first sentence of the paragraph it introduces
                break
            out.append(item)
            j += 1
        return out

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
        words += len(unit.text.split())
        if words > self.model.thresholds.max_words:
            return chosen
        extra = best.model_copy(update={"unit": nxt, "score": best.score})
        if not is_list_intro(unit.text):
            return [*chosen, extra]
        # "..., I developed a checklist that helped me focus on ...:" says nothing without its items.
        items, _ = self._fitting(self._list_items(extra), [*chosen, extra], words)
        return [*chosen, extra, *items] if items else chosen

    def _fitting(self, items: list[Candidate], chosen: list[Candidate], words: int) -> tuple[list[Candidate], int]:
        """The first of a list introduction's ``items`` that still fit after ``chosen`` (which has
        ``words``): three units at most, the word budget, stopping at one already chosen; and the
        words then."""
        taken = {(x.passage, x.unit) for x in chosen}
        out: list[Candidate] = []
        for c in items:
            n = len(c.get(self.index).text.split())
            full = len(chosen) + len(out) == 3 or words + n > self.model.thresholds.max_words
            if full or (c.passage, c.unit) in taken:
                break
            out.append(c)
            words += n
        return out, words

    # -- building ---------------------------------------------------------------

    def _abstain(
        self,
        question: str,
        query: str,
        suggestions: list[str],
        conf: float,
        signals: dict[str, float],
        career: str | None = None,
    ) -> Answer:
        where = "; ".join(suggestions)
        text = f'There is no guide here about "{career}".' if career else "The guide does not cover that."
        if where:
            text += f" The closest sections it does cover: {where}."
        if len(self.index.manifest.guides) > 1:
            # Say which careers there are guides for, so a job seeker can pick one.
            titles = "; ".join(g.title for g in self.index.manifest.guides)
            text += f" The career guides here: {titles}."
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
        # A question read on its own sets the topic, typos corrected or not; an empty one never does.
        standalone=bool(answer.query) and not answer.followup,
        passage_ids=[c.passage_id for c in answer.citations],
        quoted=[(c.source, s.char_start) for s in answer.sentences for c in answer.citations if c.marker == s.citation],
        abstained=answer.abstained,
    )


AFTER_QUOTED_REACH = 8
"""How many units after a quoted one ``after_quoted`` reaches (a list or a short section; set once, not tuned)."""


class _QuestionContext:
    """What every candidate row of one question shares."""

    def __init__(
        self,
        q: str,
        subject: list[str],
        res: Resolution,
        focus: set[int],
        index: Index,
        qvec: np.ndarray,
        avec: np.ndarray,
        elsewhere: Elsewhere | None = None,
        adapted: np.ndarray | None = None,
        tvec: np.ndarray | None = None,
    ) -> None:
        self.q = q
        self.tvec = tvec
        """The topic question's vector when the question is read with its topic (``dense_topic``)."""
        self.adapted = qvec if adapted is None else adapted
        """The question vector turned by the answer model's map (``dense_adapted``)."""
        self._elsewhere = elsewhere
        self._protos: dict[str, np.ndarray | None] = {}
        self.res = res
        self.qvec = qvec
        self.avec = avec
        self.subject = subject_weights(subject)
        self.focus = focus
        self.focus_paths = [index.passages[p].section for p in focus]
        self.repeated = set(res.already_quoted)
        self.quoted_units = {
            (src, u) for src, char in res.already_quoted if (u := index.unit_at(src, char)) is not None
        }
        self.qstems = set(lexical.tokens(res.query))
        self.qnames = names(q)
        self.wanted = asked_types(res.query if res.followup else q)
        self.extreme = asked_extreme(q)

    def answer_like(self, title: str, uvec: np.ndarray) -> float:
        """``answer_like``: the unit vector's dot product with what answered questions like this one on
        guides other than ``title`` (``Elsewhere.answer_prototype``, once per guide; 0 without one)."""
        if title not in self._protos:
            found = self._elsewhere.answer_prototype(self.qvec, title) if self._elsewhere is not None else None
            self._protos[title] = found
        proto = self._protos[title]
        return float(proto @ uvec) if proto is not None else 0.0

    def after_quoted(self, source: str, unit: int) -> float:
        """1/d for the unit d places after the nearest unit the previous answer quoted (0 when none
        is within ``AFTER_QUOTED_REACH`` units before it): "what comes after that?", "and the cons?"."""
        gaps = [unit - q for src, q in self.quoted_units if src == source and 0 < unit - q <= AFTER_QUOTED_REACH]
        return 1.0 / min(gaps) if gaps else 0.0
