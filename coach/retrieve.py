"""Hybrid retrieval: FAISS dense search and BM25, fused by reciprocal rank.

``retrieve`` returns the best passages; ``candidate_units`` expands them into
the units (sentences, bullets, rows, facts) that answer extraction ranks.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from coach.chunk import unit_context
from coach.index import Index
from coach.records import Hit, Unit

RRF_K = 60


class Candidate(BaseModel):
    """A unit that may be quoted, with the scores gathered so far."""

    passage: int
    unit: int
    context: str
    dense: float
    passage_score: float
    passage_rank: int = 0
    """Rank of its passage among the retrieved ones (0 = best)."""
    lexical: float = 0.0
    """BM25 score of its passage, relative to the best retrieved passage."""
    logit: float | None = None
    """Cross-encoder logit, when reranked."""
    score: float = 0.0

    def get(self, index: Index) -> Unit:
        return index.passages[self.passage].units[self.unit]


def retrieve(index: Index, qvec: np.ndarray, qtokens: list[str], k: int = 8, pool: int = 30) -> list[Hit]:
    """Top ``k`` passages by reciprocal-rank fusion of dense and BM25 rankings.

    Returns ``Hit`` records sorted by fused score (best first); each carries
    its dense cosine and BM25 score for display and diagnostics.
    """
    dense = index.dense_search(qvec, pool)
    lex = index.lexical_scores(qtokens)
    fused: dict[int, float] = {}
    dense_score = dict(dense)
    for rank, (i, _) in enumerate(dense):
        fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
    if lex.any():
        order = np.argsort(-lex)[:pool]
        for rank, i in enumerate(order):
            if lex[i] <= 0:
                break
            fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
    return [
        Hit(
            passage=index.passages[i],
            score=s,
            dense=dense_score.get(i, 0.0),
            lexical=float(lex[i]) if lex.size else 0.0,
        )
        for i, s in best
    ]


def candidate_units(
    index: Index,
    qvec: np.ndarray,
    passage_ids: list[int],
    passage_scores: list[float],
    lexical: list[float] | None = None,
) -> list[Candidate]:
    """Every quotable unit of the given passages, with its cosine to the query.

    ``passage_ids`` are in retrieval order; ``lexical`` gives each passage's BM25 score.
    """
    out: list[Candidate] = []
    lexical = lexical or [0.0] * len(passage_ids)
    top_lex = max(lexical, default=0.0) or 1.0
    for rank, (pid, pscore) in enumerate(zip(passage_ids, passage_scores, strict=True)):
        passage = index.passages[pid]
        base = index.unit_start[pid]
        for j, unit in enumerate(passage.units):
            if unit.kind == "heading":
                continue
            vec = index.unit_vectors[base + j].astype(np.float32)
            out.append(
                Candidate(
                    passage=pid,
                    unit=j,
                    context=unit_context(passage, unit),
                    dense=float(vec @ qvec),
                    passage_score=pscore,
                    passage_rank=rank,
                    lexical=lexical[rank] / top_lex,
                )
            )
    return out
