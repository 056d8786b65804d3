"""The tutorial pipeline every figure is compared with.

What a retrieval tutorial builds: the guide cut into 1,000-character chunks,
the chunk nearest to the question (same embedder) returned whole as the
answer, every question asked on its own, never an abstention. It answers
through the same :class:`~coach.records.Answer` shape, so ``coach eval`` scores
it with exactly the rules it scores the coach with, and ``coach bench`` times
it in the same run (machines differ 3-4x; the ratio does not).
"""

from __future__ import annotations

import time

import numpy as np

from coach.conversation import Turn
from coach.embed import Embedder
from coach.records import Answer, AnswerSentence, Citation

CHUNK_CHARS = 1000


class TutorialCoach:
    """Top-1 dense chunk as the answer. Has ``ask`` like :class:`~coach.answer.Coach`."""

    def __init__(self, sources: dict[str, str], embedder: Embedder, chunk_chars: int = CHUNK_CHARS) -> None:
        self.embedder = embedder
        self.chunks: list[tuple[str, int, str]] = []
        """(source, start offset, text) of every chunk."""
        for source, text in sorted(sources.items()):
            for start in range(0, len(text), chunk_chars):
                piece = text[start : start + chunk_chars]
                if piece.strip():
                    self.chunks.append((source, start, piece))
        self.vectors = embedder.encode([c[2] for c in self.chunks]) if self.chunks else np.zeros((0, 1))

    def ask(self, question: str, history: list[Turn] | None = None, guide: str | None = None) -> Answer:
        """The nearest chunk to ``question`` alone (``history`` and ``guide`` are ignored, as in the tutorial)."""
        started = time.perf_counter()
        if not self.chunks:
            return Answer(question=question, query=question, abstained=True, text="")
        qvec = self.embedder.encode([question])[0]
        k = int(np.argmax(self.vectors @ qvec))
        source, start, text = self.chunks[k]
        end = start + len(text)
        citation = Citation(
            marker=1, passage_id=f"{source}#{start}", source=source, title=source, section=[source],
            text=text, char_start=start, char_end=end, score=float(self.vectors[k] @ qvec),
        )  # fmt: skip
        return Answer(
            question=question,
            query=question,
            abstained=False,
            text=text,
            sentences=[AnswerSentence(text=text, citation=1, char_start=start, char_end=end)],
            citations=[citation],
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
