"""How often a guide answers questions of this kind: the ``question_prior`` feature.

``elsewhere_vote`` (``coach.examples``) asks the ten labelled questions closest to a new one
whether their guides answered them. Closeness in the embedder's space mixes what a question is
about with how it is worded, so a near-miss about another job ("what does a building
inspector earn?") has pay questions for neighbours and votes "answered". The same labels fit a
logistic regression over the whole question vector instead: it weighs each direction by how
well it tells the questions guides answer from those they do not (another state's licence,
a visa, a named school, the pay of a neighbouring job), over every labelled question at once.
``question_prior`` is its log-odds for the question as it searched the guide.

It says what kind of question this is, not whether this guide answers it: the abstention
model weighs it beside the evidence from the guide's own text. Training rows take it from a
regression fitted without their guide, as a new guide is read (``coach.train.with_prior``);
the regression fitted on every guide ships in the model for the embedder that made the
vectors (with another embedder the feature is the training questions' base rate).

Leave-one-guide-out over the 1,773 labelled turns of 26 guides, beside ``top_adapted``: a first
script (abstention trees fitted on 25 guides with the regression's column nested, cut at 0.04
false abstention on the other guides) out-of-scope abstention 0.787 -> 0.804, AUC 0.955 ->
0.962; ``coach train``'s replay 0.784 -> 0.807 at false abstention 0.040, in-scope hit 0.838 -> 0.836.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
from pydantic import BaseModel

C = 1.0
"""Inverse L2 strength of the regression (scikit-learn's default, set once, not tuned)."""
NO_PRIOR = 0.0
"""The feature without any fitted regression (the bootstrap model that collects training rows): even odds."""


class QuestionPrior(BaseModel):
    """A logistic regression over question vectors of one embedder: log-odds that a guide answers."""

    embedder: str
    dimension: int
    coef: list[float]
    intercept: float
    base: float
    """The log-odds of the share of its training questions in scope: what it reads for a vector
    of another embedder, which it cannot read (the abstention weighs the feature one way only, so
    a constant below the usual values would lean every question towards "not covered")."""

    def read(self, qvec: np.ndarray | None, embedder: tuple[str, int]) -> float:
        """The log-odds for ``qvec`` from ``embedder`` (model id, dimension); ``base`` for another."""
        if qvec is None or (self.embedder, self.dimension) != embedder:
            return self.base
        return round(float(np.asarray(qvec, dtype=np.float64) @ self._weights + self.intercept), 6)

    @cached_property
    def _weights(self) -> np.ndarray:
        """``coef`` as an array, made once per loaded model rather than once per question."""
        return np.asarray(self.coef, dtype=np.float64)


def fit_prior(vectors: Sequence[np.ndarray], in_scope: Sequence[bool], embedder: str) -> QuestionPrior | None:
    """The regression for question ``vectors`` (one embedder) labelled in scope or not; None
    unless both kinds are there."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(in_scope, dtype=bool)
    if not len(y) or y.all() or not y.any():
        return None
    x = np.vstack([np.asarray(v, dtype=np.float32) for v in vectors])
    clf = LogisticRegression(C=C, max_iter=2000).fit(x, y.astype(int))
    return QuestionPrior(
        embedder=embedder,
        dimension=int(x.shape[1]),
        coef=[round(float(c), 6) for c in clf.coef_[0]],
        intercept=round(float(clf.intercept_[0]), 6),
        base=round(float(np.log(y.mean() / (1 - y.mean()))), 6),
    )


def read_prior(prior: QuestionPrior | None, qvec: np.ndarray | None, embedder: tuple[str, int]) -> float:
    """``question_prior`` for ``qvec``: ``NO_PRIOR`` without a regression."""
    return prior.read(qvec, embedder) if prior is not None else NO_PRIOR
