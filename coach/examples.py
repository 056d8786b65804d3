"""Labelled questions of other guides: the ``elsewhere_vote`` and ``answer_like`` features.

The readers judge a question against one guide's text, and an unrelated
request ("can you help me write a resignation letter?", "what's the weather in
Boston this weekend?") still finds some sentence that looks relevant enough:
nothing in the guide says "this is not a question about the career". The
labelled sets do. ``coach train`` keeps every labelled turn as an ``Example``:
the question as it was searched and whether its guide answered it. A new
question's ``elsewhere_vote`` is the share of in-scope examples among the
``NEIGHBOURS`` closest to it, each weighted by its cosine to the power
``SHARPNESS``: questions like it were answered on other guides (near 1), or
were requests no career guide answers (near 0). Whether *this* guide answers
stays with the other evidence; the vote says what kind of question it is.

Close questions also say what an answer looks like. An in-scope example keeps
the mean vector of the units that answered it; a candidate unit's
``answer_like`` is its dot product with the weighted mean of the answer vectors
of the ``NEIGHBOURS`` closest answered examples (``Elsewhere.answer_prototype``). Asked "what is the job outlook?", a
guide's projection sentence ("employment is projected to grow 4 percent") reads
like the projections that answered it on other guides, though it shares no word
with the question, and neither the cross-encoder nor the embedder links the two.

Close questions also say how sure the cross-encoder gets of a right answer to
them. "Is this a good career for me?" is answered with a logit near 0 on every
guide, "how much do electricians make?" near 8. An answered example keeps the
cross-encoder's logit for the unit that answered it (``Example.logit``); a new
question's ``logit_standing`` is the weighted share of the ``STANDING_NEIGHBOURS``
closest answered examples whose logit its own best unit reaches
(``Elsewhere.usual_logits``, ``logit_standing``). A best logit of 3 is high for
the first question and low for the second.

A guide's own examples are never used for it (examples of the same guide title
are skipped), so a guide the model was fitted on is read as a new guide would
be, and training rows are computed the same way (each guide's turns vote from
the other guides' examples).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel

NEIGHBOURS = 10
"""How many of the closest labelled questions vote."""
SHARPNESS = 4
"""A vote weighs its question's cosine to this power: the closest count most."""
NO_VOTE = 0.5
"""The vote when no example of another guide is close at all (or there are none)."""
STANDING_NEIGHBOURS = 20
"""How many of the closest answered questions a best logit is compared with (a share needs more
than a mean does)."""
NO_STANDING = 0.5
"""``logit_standing`` when there is nothing to compare with (no cross-encoder, no close example)."""


class Example(BaseModel):
    """One labelled question."""

    query: str
    """The question as searched (for a follow-up, with the topic it continues)."""
    in_scope: bool
    guide: str
    """The title of the guide it was asked on."""
    logit: float | None = None
    """The cross-encoder's logit for the best unit that answered it (None when none did, or
    the cross-encoder did not read it)."""


class ExampleVectors(BaseModel):
    """The examples' question vectors as shipped: int8 with one scale a row, base64, and the embedder
    that made them (a cosine moves by well under 0.01 against the float vectors). The question map
    of ``coach.adapter`` (a square matrix) is shipped the same way."""

    embedder: str
    """``Embedder.model_id`` of the model the vectors came from."""
    dimension: int
    data: str
    """base64 of the rows' float32 little-endian scales, then the int8 rows."""
    sha256: str

    @classmethod
    def pack(cls, vectors: np.ndarray, embedder: str) -> ExampleVectors:
        vectors = np.asarray(vectors, dtype=np.float32)
        scale = np.abs(vectors).max(axis=1) / 127.0
        scale[scale <= 0] = 1.0
        q = np.round(vectors / scale[:, None]).astype(np.int8)
        raw = scale.astype("<f4").tobytes() + q.tobytes()
        return cls(
            embedder=embedder,
            dimension=int(vectors.shape[1]),
            data=base64.b64encode(raw).decode("ascii"),
            sha256=hashlib.sha256(raw).hexdigest(),
        )

    def unpack(self, rows: int) -> np.ndarray | None:
        """The vectors (``rows`` x ``dimension`` float32), or None when the data is not what was written."""
        try:
            raw = base64.b64decode(self.data.encode("ascii"), validate=True)
        except ValueError:
            return None
        if hashlib.sha256(raw).hexdigest() != self.sha256 or len(raw) != rows * (4 + self.dimension):
            return None
        scale = np.frombuffer(raw[: 4 * rows], dtype="<f4")
        q = np.frombuffer(raw[4 * rows :], dtype=np.int8).reshape(rows, self.dimension)
        return q.astype(np.float32) * scale[:, None]


def guide_key(title: str) -> str:
    """Guide titles compared without case or spacing."""
    return " ".join(title.lower().split())


class Elsewhere:
    """The examples ready to vote: unit question vectors, in-scope labels and guide keys (rows aligned)."""

    def __init__(
        self,
        vectors: np.ndarray,
        in_scope: Sequence[bool],
        guides: Sequence[str],
        answers: np.ndarray | None = None,
        logits: Sequence[float | None] | None = None,
    ) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.in_scope = np.asarray(in_scope, dtype=np.float64)
        self.guides = np.asarray([guide_key(g) for g in guides], dtype=object)
        self.answers = np.asarray(answers, dtype=np.float32) if answers is not None and len(answers) else None
        """Answer vectors, rows aligned with the questions (zero rows where there is none)."""
        given = logits if logits is not None else [None] * len(self.guides)
        self.logits = np.asarray([np.nan if v is None else v for v in given], dtype=np.float64)
        """``Example.logit`` of each row (NaN where there is none)."""
        # What each question asks of the examples is worked out once: the rows of the guides other
        # than the asked one (per guide and purpose), and the cosines of the latest question
        # vector (vote, usual_logits and answer_prototype read the same question in turn, and each
        # copied the rows it kept: 8 ms a question on the seed guide's dev questions, 1.6 ms now).
        self._rows: dict[tuple[str, str], np.ndarray] = {}
        self._last: tuple[bytes, np.ndarray] | None = None

    @classmethod
    def of(
        cls,
        examples: Sequence[Example],
        shipped: ExampleVectors | None,
        embedder: tuple[str, int],
        encode: Callable[[list[str]], np.ndarray],
        shipped_answers: ExampleVectors | None = None,
    ) -> Elsewhere:
        """The examples with their shipped question vectors when they came from this embedder (its
        model id and dimension), else embedded now with ``encode``; their answer vectors only from
        this embedder (for another, ``answer_prototype`` has none and ``answer_like`` is 0)."""

        def same(packed: ExampleVectors | None) -> bool:
            return packed is not None and (packed.embedder, packed.dimension) == embedder

        vectors = shipped.unpack(len(examples)) if shipped is not None and same(shipped) else None
        if vectors is None:
            texts = [e.query for e in examples]
            vectors = np.asarray(encode(texts), dtype=np.float32) if texts else np.zeros((0, 1), dtype=np.float32)
        answers = (
            shipped_answers.unpack(len(examples)) if shipped_answers is not None and same(shipped_answers) else None
        )
        return cls.built(examples, vectors, answers)

    @classmethod
    def built(cls, examples: Sequence[Example], vectors: np.ndarray, answers: np.ndarray | None = None) -> Elsewhere:
        """The examples with their question vectors and answer vectors (rows aligned)."""
        return cls(
            vectors, [e.in_scope for e in examples], [e.guide for e in examples], answers, [e.logit for e in examples]
        )

    def __len__(self) -> int:
        return len(self.guides)

    def _neighbours(
        self, qvec: np.ndarray, keep: np.ndarray, k: int = NEIGHBOURS
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``k`` rows of ``keep`` closest to ``qvec`` and their weights (cosine to the
        power ``SHARPNESS``), or None when there are none or none is close at all."""
        if not len(keep):
            return None
        sim = self._cosines(qvec)[keep]
        top = np.argsort(-sim, kind="stable")[:k]
        weight = np.clip(sim[top], 0.0, None).astype(np.float64) ** SHARPNESS
        return (keep[top], weight / weight.sum()) if weight.sum() > 0 else None

    def _cosines(self, qvec: np.ndarray) -> np.ndarray:
        """Every example's cosine with ``qvec`` (kept for the next call with the same vector)."""
        q = np.asarray(qvec, dtype=np.float32)
        key = q.tobytes()
        last = self._last  # replaced whole, so a thread never reads another's half-written pair
        if last is not None and last[0] == key:
            return last[1]
        sim = self.vectors @ q
        self._last = (key, sim)
        return sim

    def _others(self, guide: str, purpose: str) -> np.ndarray:
        """Rows of guides other than ``guide``: all (``vote``), those with a logit (``usual``) or
        with an answer vector (``answered``)."""
        key = (guide_key(guide), purpose)
        if key not in self._rows:
            keep = self.guides != key[0]
            if purpose == "usual":
                keep &= ~np.isnan(self.logits)
            elif purpose == "answered":
                keep &= np.abs(self.answers).sum(axis=1) > 0
            self._rows[key] = np.flatnonzero(keep)
        return self._rows[key]

    def vote(self, qvec: np.ndarray, guide: str) -> float:
        """Weighted share of in-scope questions among the ``NEIGHBOURS`` examples of guides other
        than ``guide`` closest to ``qvec`` (``NO_VOTE`` without any)."""
        found = self._neighbours(qvec, self._others(guide, "vote"))
        if found is None:
            return NO_VOTE
        rows, weight = found
        return float(weight @ self.in_scope[rows])

    def usual_logits(self, qvec: np.ndarray, guide: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The logits that answered the ``STANDING_NEIGHBOURS`` answered examples of other guides
        closest to ``qvec``, and their weights (as in ``vote``); None without any."""
        found = self._neighbours(qvec, self._others(guide, "usual"), STANDING_NEIGHBOURS)
        if found is None:
            return None
        rows, weight = found
        return self.logits[rows], weight

    def answer_prototype(self, qvec: np.ndarray, guide: str) -> np.ndarray | None:
        """What answered the questions most like ``qvec`` on other guides: the mean of the answer
        vectors of the ``NEIGHBOURS`` closest answered examples, each weighted as in ``vote``
        (None when no example of another guide has an answer).

        A unit's dot product with it is ``answer_like``: on a new guide, "what is the job
        outlook?" is answered by the unit that reads like the projections that answered it on
        the other guides, even when the question's words are nowhere in that unit."""
        if self.answers is None:
            return None
        found = self._neighbours(qvec, self._others(guide, "answered"))
        if found is None:
            return None
        rows, weight = found
        return (weight @ self.answers[rows]).astype(np.float32)


def logit_standing(logit: float, usual: tuple[np.ndarray, np.ndarray] | None) -> float:
    """The weighted share of the ``usual`` logits (``Elsewhere.usual_logits``) that ``logit``
    reaches: 1 when it is as sure as any right answer to a question like this was, 0 when it is
    below all of them; ``NO_STANDING`` with nothing to compare."""
    if usual is None:
        return NO_STANDING
    values, weight = usual
    return float(weight @ (values <= logit))
