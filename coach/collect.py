"""Collect labelled feature rows: the first step of ``python -m coach train`` (``coach.train``).

Every labelled conversation is run through the answer path of its guide's own
index with a fixed bootstrap model, the cross-encoder reading every
candidate. Each turn keeps its candidate feature rows and a label per
candidate: does the unit contain an expected answer string?

A collection depends on this module and the answer path it runs, never on the
fitting in ``coach.train``, so ``coach train`` keeps collections across
changes to the fit (``coach.experiment.code_digest``).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from coach.answer import Analysis, Coach, clean_question, history_turn
from coach.evaluate import EvalTurn, GuideSet, _norm
from coach.examples import NO_VOTE
from coach.features import QUESTION_FEATURES
from coach.model import MODEL_VERSION, AnswerModel, Linear, Thresholds
from coach.prior import NO_PRIOR


class TurnData(BaseModel):
    """One labelled turn as the model sees it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    guide: str
    conv: str
    turn: int
    abstain: bool
    rows: np.ndarray
    labels: np.ndarray
    words: list[int]
    """Words the coach would quote for each candidate (a list introduction with its items)."""
    texts: list[str]
    unknown: list[str]
    subject: list[str]
    gain: float
    unknown_names: float
    cover: float = 0.0
    """The question's worst-covered subject word's best cover by any candidate (``pool_cover``)."""
    wanted: list[str]
    followup: bool
    reranked: bool
    evidence: dict[str, float] = {}
    """A later turn's follow-up signals (``Analysis.evidence``)."""
    query: str = ""
    """What was searched and read by the cross-encoder (the question, or its topic plus the question)."""
    searched: str = ""
    """The text whose vector searched the guide (``Analysis.searched``)."""
    qvec: np.ndarray | None = None
    """That vector."""
    title: str = ""
    """The guide's title."""
    embedder: str = ""
    """``model_id`` of the embedder ``qvec`` came from."""
    vote: float = NO_VOTE
    """``elsewhere_vote``: set by ``with_votes`` from the other guides' turns (``coach.examples``)."""
    prior: float = NO_PRIOR
    """``question_prior``: set by ``with_prior`` from a regression fitted on the other guides' turns."""
    usual: tuple[np.ndarray, np.ndarray] | None = None
    """The logits that answered the closest questions of other guides, with their weights
    (``Elsewhere.usual_logits``, for ``logit_standing``): set by ``with_votes`` like ``vote``."""
    uvecs: np.ndarray | None = None
    """The candidates' unit vectors (float16, rows aligned with ``rows``), for ``answer_like``."""
    other: TurnData | None = None
    """The same turn read the other way (with its topic, or alone), when collected ``both_readings``."""


def bootstrap_model() -> AnswerModel:
    """A fixed, hand-free starting point for collection: rank by the cross-encoder, never abstain."""

    def one(feature: str) -> Linear:
        return Linear(features=[feature], mean=[0.0], scale=[1.0], coef=[1.0], intercept=0.0)

    return AnswerModel(
        version=MODEL_VERSION,
        first=one("dense"),
        first_plain=one("dense"),
        ranker=one("logit"),
        plain_ranker=one("logit"),
        answerable=one("top_logit"),
        answerable_first=one("top_dense"),
        thresholds=Thresholds(abstain_below=0.0, abstain_below_first=0.0, extra_min=1.0),
        trained_on=[],
    )


def turn_data(guide: str, conv: str, k: int, turn: EvalTurn, q: str, a: Analysis, coach: Coach) -> TurnData:
    """The labelled rows of one analysed turn (``q`` cleaned, ``a`` from ``coach.analyze`` with ``full_pool``)."""
    from coach.conversation import subject_words
    from coach.features import asked_types, unknown_words

    texts = [c.get(coach.index).text for c in a.candidates]
    expected = [_norm(e) for e in turn.expect_any]
    # A list introduction is quoted with its items, so it is right when they are.
    quoted = [t + " " + " ".join(x.get(coach.index).text for x in coach._list_items(c)[:2])
              for c, t in zip(a.candidates, texts, strict=True)]  # fmt: skip
    labels = np.array([any(e in _norm(t) for e in expected) for t in quoted], dtype=bool)
    subject = subject_words(q)
    ix = coach.index
    uvecs = (
        np.stack([ix.unit_vectors[ix.unit_start[c.passage] + c.unit] for c in a.candidates]).astype(np.float16)
        if a.candidates
        else None
    )
    return TurnData(
        guide=guide, conv=conv, turn=k, abstain=turn.abstain, rows=a.rows, labels=labels,
        words=[len(t.split()) for t in quoted], texts=texts,
        unknown=unknown_words(subject, coach.index.knows), subject=subject,
        gain=a.qrow[QUESTION_FEATURES.index("unknown_gain")] if a.qrow else 0.0,
        unknown_names=a.qrow[QUESTION_FEATURES.index("unknown_names")] if a.qrow else 0.0,
        cover=a.qrow[QUESTION_FEATURES.index("pool_cover")] if a.qrow else 0.0,
        wanted=asked_types(a.res.query if a.res.followup else q), followup=a.res.followup,
        reranked=a.reranked, evidence=a.evidence, query=a.res.query, searched=a.searched, qvec=a.qvec,
        title=coach.index.passages[a.candidates[0].passage].title if a.candidates else "",
        embedder=coach.embedder.model_id, uvecs=uvecs,
    )  # fmt: skip


def collect(gs: GuideSet, coach: Coach, both_readings: bool = False) -> list[TurnData]:
    """Labelled feature rows for every turn of the guide's conversations.

    With ``both_readings`` a later turn also carries its rows read the other
    way (``TurnData.other``; ``benchmarks/followup_readings.py``); the
    conversation goes on from the reading the coach chose.
    """
    out: list[TurnData] = []
    for conv in gs.conversations():
        history = []
        for k, turn in enumerate(conv.turns):
            q = clean_question(turn.q)
            a = coach.analyze(q, history, full_pool=True)
            data = turn_data(gs.name, str(conv.id), k, turn, q, a, coach)
            if both_readings and history:
                b = coach.analyze(q, history, full_pool=True, as_followup=not a.res.followup)
                data.other = turn_data(gs.name, str(conv.id), k, turn, q, b, coach)
            out.append(data)
            history.append(history_turn(coach.decide(a)))
    return out
