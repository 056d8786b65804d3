"""The answer model: fitted weights in a small versioned JSON file, loaded once.

Three models over named feature columns (``coach/features.py``); the two
rankers are logistic (a standardiser plus weights), the abstention model is
small boosted trees, monotone in each piece of evidence:

* ``first``: ranks candidate units before the cross-encoder, choosing the few
  it reads (and ranks alone when there is no cross-encoder);
* ``ranker``: ranks candidates with every column, the cross-encoder logit included;
* ``answerable``: the probability that the guide answers the question at all.

Beside them, the labelled questions themselves (``examples``, with their vectors):
the ``elsewhere_vote`` evidence of ``answerable`` asks how such questions fared
on other guides.

Decision thresholds sit beside the weights: the coach abstains when
``answerable`` is below ``abstain_below``, and quotes an extra unit when its
ranker probability is at least ``extra_min``. All of it is written by
``python -m coach train`` (``coach/train.py``); nothing here is set by hand.
Inference needs only numpy.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, PrivateAttr

from coach.errors import ModelError
from coach.examples import Example, ExampleVectors
from coach.prior import QuestionPrior

MODEL_VERSION = 7
DEFAULT_MODEL_FILE = Path(__file__).with_name("answer_model.json")


class Linear(BaseModel):
    """A standardised logistic model over named columns."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def decision(self, x: np.ndarray, columns: list[str]) -> np.ndarray:
        """Log-odds for each row of ``x`` (whose columns are named by ``columns``)."""
        if x.size == 0:
            return np.zeros(0, dtype=np.float64)
        pick = [columns.index(f) for f in self.features]
        z = (x[:, pick] - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + self.intercept

    def proba(self, x: np.ndarray, columns: list[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(x, columns)))


class Trees(BaseModel):
    """Gradient-boosted decision trees over named columns: scikit-learn's
    ``HistGradientBoostingClassifier`` written out node by node (``coach.train.fit_trees``).

    Per tree and node: the column it splits on (-1 at a leaf), the threshold
    (a value at or below it goes left), the two children, where a missing value
    goes, and the leaf value. The log-odds of a row is ``baseline`` plus the
    value of the leaf it reaches in every tree.
    """

    features: list[str]
    baseline: float
    feature: list[list[int]]
    threshold: list[list[float]]
    left: list[list[int]]
    right: list[list[int]]
    missing_left: list[list[bool]]
    value: list[list[float]]

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, ...]:
        """The trees as padded (trees x nodes) arrays, so every tree is walked at once."""
        width = max(len(f) for f in self.feature)

        def pad(rows: list[list], fill: float, dtype: type) -> np.ndarray:
            return np.asarray([r + [fill] * (width - len(r)) for r in rows], dtype=dtype)

        return (
            pad(self.feature, -1, np.int64),
            pad(self.threshold, 0.0, np.float64),
            pad(self.left, 0, np.int64),
            pad(self.right, 0, np.int64),
            pad(self.missing_left, False, bool),
            pad(self.value, 0.0, np.float64),
        )

    def decision(self, x: np.ndarray, columns: list[str]) -> np.ndarray:
        """Log-odds for each row of ``x`` (whose columns are named by ``columns``)."""
        if x.size == 0:
            return np.zeros(0, dtype=np.float64)
        feature, threshold, left, right, missing_left, value = self._arrays
        z = np.asarray(x, dtype=np.float64)[:, [columns.index(f) for f in self.features]]
        trees = np.arange(feature.shape[0])[None, :]
        rows = np.arange(z.shape[0])[:, None]
        node = np.zeros((z.shape[0], feature.shape[0]), dtype=np.int64)
        for _ in range(feature.shape[1]):
            split = feature[trees, node]
            inner = split >= 0
            if not inner.any():
                break
            v = z[rows, np.maximum(split, 0)]
            go_left = np.where(np.isnan(v), missing_left[trees, node], v <= threshold[trees, node])
            node = np.where(inner, np.where(go_left, left[trees, node], right[trees, node]), node)
        return value[trees, node].sum(axis=1) + self.baseline

    def proba(self, x: np.ndarray, columns: list[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(x, columns)))


class Thresholds(BaseModel):
    abstain_below: float
    """Abstain when the best answer's probability of being right is below this."""
    abstain_below_first: float
    """The same, when no cross-encoder is available."""
    extra_min: float
    """An extra unit is quoted when its ranker probability is at least this."""
    pool: int = 6
    """How many candidates the cross-encoder reads (``benchmarks/pool_size.py``: 6 rank as well as 8)."""
    max_words: int = 60
    """Extra units stop at this many words in all."""


class ReaderRef(BaseModel):
    """The tuned reader (``coach.reader``) an answer model reads with: a file beside it (the model's
    features were read by readers tuned like it on the guides' halves, ``experiment.train``)."""

    file: str
    sha256: str
    trained_on: list[str] = []
    """The guides it was tuned on."""


class AnswerModel(BaseModel):
    version: int
    first: Linear
    first_plain: Linear
    """First stage of the path without the cross-encoder and late-interaction reader (``FIRST_PLAIN``)."""
    ranker: Linear
    plain_ranker: Linear
    """The ranker without the late-interaction columns: its order of the pool builds the abstention's question row."""
    answerable: Trees | Linear
    """P(the guide answers the question), from the question row (``QUESTION_FEATURES``); fitted as
    ``Trees``; a ``Linear`` one only in the bootstrap model that collects training rows."""
    answerable_first: Trees | Linear
    """Abstention model for the no-cross-encoder path (question rows built from ``first``)."""
    thresholds: Thresholds
    examples: list[Example] = []
    """The labelled questions it was fitted on, each with whether its guide answered it
    (``coach.examples``: the ``elsewhere_vote`` feature)."""
    example_vectors: ExampleVectors | None = None
    """Their question vectors, so loading the model embeds nothing (re-embedded for another embedder)."""
    answer_vectors: ExampleVectors | None = None
    """The mean vector of the units that answered each of them (zero rows where none did; the
    ``answer_like`` feature), the same way, used only with the embedder that made them."""
    adapter: ExampleVectors | None = None
    """The question map of ``dense_adapted`` (``coach.adapter``): dimension x dimension, int8 rows,
    for the embedder that made the training vectors (with another, the plain cosine)."""
    question_prior: QuestionPrior | None = None
    """The regression of ``question_prior`` (``coach.prior``) over question vectors of the embedder
    that made them (with another, the base rate of its training questions)."""
    trained_on: list[str]
    """The labelled sets it was fitted on (file names with their sha256)."""
    report: dict[str, float] = {}
    """Leave-one-guide-out figures from the training run, for reference."""
    created: str = ""
    libraries: dict[str, str] = {}
    reader: ReaderRef | None = None
    """The tuned cross-encoder it reads with (None: the cross-encoder as installed)."""
    _folder: Path = PrivateAttr(default=DEFAULT_MODEL_FILE.parent)

    def reader_file(self) -> Path | None:
        return self._folder / self.reader.file if self.reader is not None else None


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> AnswerModel:
    """The fitted answer model (default: the file shipped beside this module)."""
    p = Path(path) if path else DEFAULT_MODEL_FILE
    try:
        model = AnswerModel.model_validate_json(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"The answer model file {p} is missing.", "Run: python -m coach train") from exc
    except (ValueError, OSError) as exc:
        raise ModelError(f"The answer model file {p} is damaged or unreadable.", "Run: python -m coach train") from exc
    if model.version != MODEL_VERSION:
        raise ModelError(
            f"The answer model file {p} is version {model.version}; this coach reads {MODEL_VERSION}.",
            "Run: python -m coach train",
        )
    from coach.features import CANDIDATE_FEATURES, QUESTION_FEATURES

    stale = [
        f
        for m in (model.first, model.first_plain, model.ranker, model.plain_ranker)
        for f in m.features
        if f not in CANDIDATE_FEATURES
    ]
    stale += [f for m in (model.answerable, model.answerable_first) for f in m.features if f not in QUESTION_FEATURES]
    if stale:
        raise ModelError(
            f"The answer model file {p} was fitted on features this coach no longer computes ({', '.join(stale[:3])}).",
            "Run: python -m coach train",
        )
    model._folder = p.resolve().parent
    return model
