"""A learned turn of the question vector towards what answers it: the ``dense_adapted`` feature.

The embedder places a question near sentences that say the same words, not near the
sentences that answer it: "What does a typical day look like?" sits closer to "Hours and
schedules depend on the workplace" than to the list of duties an adviser would point to.
The labelled sets hold the pairs that fix this: every answered turn, its question vector
and the vectors of its candidate units, some of which answer it. ``coach train`` fits a
linear map ``A`` (dimension x dimension) so that the adapted question ``normalise(q + A q)``
scores a turn's right units above its other candidates (a softmax over each turn's
candidates at temperature ``TEMPERATURE``, with an L2 pull of ``A`` towards 0, the plain
cosine). A candidate's ``dense_adapted`` is its unit vector's cosine with the adapted
question; the units and the index are untouched, only the question turns.

Fitted on other guides and measured on a held-out one (one collection of the 1,412
labelled turns of 21 guides, each guide's adapter fitted on the other 20), the adapted
cosine alone puts a right unit first among all candidates for 0.630 of answered turns,
the plain cosine 0.537. The rankers weigh it beside the cross-encoder.

Training rows get their column from adapters that never saw their guide (``FOLDS``
groups of guides), so the rankers learn how much an adapter helps on a guide it has not
seen, as it is used on a new guide. The adapter ships in the model file as int8 rows (as
the example vectors are) for the embedder that made the vectors; with another embedder
there is none and the column is the plain cosine. The shipped map has read the labels of
every guide in ``eval/sets.json``, so ``coach eval`` on those guides without ``--cv``
flatters it; ``--cv`` fits a map without the held-out guide.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coach.examples import ExampleVectors

TEMPERATURE = 0.05
"""Softmax temperature over a turn's candidate cosines (cosines differ by hundredths)."""
PULL = 0.01
"""L2 weight on ``A``: without it the map learns the training guides' own wording."""
STEPS = 150
LEARNING_RATE = 3e-3
NEGATIVES = 40
"""A turn's candidates kept for fitting: its right units and the closest others by plain cosine
(the far ones add nothing to the softmax and cost the most)."""
FOLDS = 5
"""Groups of guides for the training rows' columns: each group's rows from an adapter fitted on the others."""
# The five constants were set once, before measuring, and not tuned.


def adapt(qvec: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """``normalise(q + A q)``; ``qvec`` itself without a matrix."""
    q = np.asarray(qvec, dtype=np.float32)
    if matrix is None:
        return q
    out = q + matrix @ q
    norm = float(np.linalg.norm(out))
    return (out / norm).astype(np.float32) if norm > 0 else q


def fit_adapter(qvecs: Sequence[np.ndarray], uvecs: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> np.ndarray:
    """The map ``A`` (d x d float32) for turns given as question vectors, their candidates' unit
    vectors (n_i x d) and which candidates answer them (n_i booleans, at least one true each)."""
    import torch

    kept_u, kept_p = [], []
    for q, u, y in zip(qvecs, uvecs, labels, strict=True):
        u = np.asarray(u, dtype=np.float32)
        y = np.asarray(y, dtype=bool)
        order = np.argsort(-(u @ np.asarray(q, dtype=np.float32)), kind="stable")
        keep = np.concatenate([np.flatnonzero(y), [i for i in order if not y[i]][: max(0, NEGATIVES - int(y.sum()))]])
        kept_u.append(u[keep.astype(int)])
        kept_p.append(y[keep.astype(int)])
    dim = int(np.asarray(qvecs[0]).shape[0])
    width = max(len(p) for p in kept_p)
    units = np.zeros((len(kept_u), width, dim), dtype=np.float32)
    mask = np.zeros((len(kept_u), width), dtype=bool)
    right = np.zeros((len(kept_u), width), dtype=bool)
    for i, (u, p) in enumerate(zip(kept_u, kept_p, strict=True)):
        units[i, : len(p)], mask[i, : len(p)], right[i, : len(p)] = u, True, p
    q = torch.tensor(np.stack([np.asarray(v, dtype=np.float32) for v in qvecs]))
    u_t, m_t, r_t = torch.tensor(units), torch.tensor(mask), torch.tensor(right)
    a = torch.nn.Parameter(torch.zeros(dim, dim))
    opt = torch.optim.Adam([a], lr=LEARNING_RATE)
    for _ in range(STEPS):
        qa = q + q @ a.T
        qa = qa / qa.norm(dim=1, keepdim=True)
        s = (torch.einsum("bd,bnd->bn", qa, u_t) / TEMPERATURE).masked_fill(~m_t, -1e9)
        loss = (torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~r_t, -1e9), 1)).mean() + PULL * (a**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return a.detach().numpy().astype(np.float32)


def pack(matrix: np.ndarray, embedder: str) -> ExampleVectors:
    """The map as shipped: int8 rows with one scale each, for ``embedder``."""
    return ExampleVectors.pack(matrix, embedder)


def unpack(packed: ExampleVectors | None, embedder: tuple[str, int]) -> np.ndarray | None:
    """The map for ``embedder`` (model id, dimension), or None when it was made for another one."""
    if packed is None or (packed.embedder, packed.dimension) != embedder:
        return None
    return packed.unpack(packed.dimension)


def shipped(matrix: np.ndarray, embedder: str) -> np.ndarray:
    """``matrix`` as serving reads it back from the model file (int8 rounding included)."""
    out = pack(matrix, embedder).unpack(matrix.shape[0])
    if out is None:  # the data was just written: unreachable unless packing itself breaks
        raise ValueError("the question map does not read back as it was packed")
    return out
