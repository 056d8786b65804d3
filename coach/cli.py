"""Command line: build-index, search, ask, chat, batch, eval, bench.

Heavy libraries (torch, faiss, onnxruntime) are imported inside the commands
that need them, so ``--help`` answers at once. Errors are one sentence on
stderr and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from coach.errors import CoachError

DESCRIPTION = "Career Coach: answers questions about career guides by quoting them, with citations."


def _settings(args: argparse.Namespace):  # noqa: ANN202
    from coach.settings import Settings

    return Settings.from_env(
        corpus_dir=args.corpus,
        index_dir=args.index,
        use_reranker=False if getattr(args, "no_rerank", False) else None,
    )


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore")


def _progress_bar():  # noqa: ANN202
    """A progress callback drawing one tqdm bar per phase on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase == "save":
            for bar in bars.values():
                bar.close()
            return
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(
                total=total, desc=phase, unit="text" if phase == "embed" else "guide", file=sys.stderr
            )
        bar.n = done
        bar.refresh()

    return update


def cmd_build_index(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.embed import SentenceTransformerEmbedder
    from coach.index import build_index

    settings = _settings(args)
    embedder = SentenceTransformerEmbedder(settings.model_path)
    if args.if_needed:
        from coach.service import index_status

        status = index_status(settings, embedder.model_id)
        if status == "ok":
            print(f"The index in {settings.index_dir} is up to date.")
            return 0
        print(f"Building the index ({status}).", file=sys.stderr)
    manifest, warnings = build_index(settings, embedder, _progress_bar())
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(
        f"Indexed {len(manifest.guides)} guide(s): {manifest.passage_count} passages, "
        f"{manifest.unit_count} sentences, {manifest.index_type} index, in {manifest.build_seconds:.1f} s -> {settings.index_dir}"
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach import lexical
    from coach.embed import SentenceTransformerEmbedder
    from coach.retrieve import retrieve
    from coach.service import ensure_index

    settings = _settings(args)
    embedder = SentenceTransformerEmbedder(settings.model_path)
    index = ensure_index(settings, embedder, _progress_bar())
    qvec = embedder.encode([args.query])[0]
    hits = retrieve(index, qvec, lexical.tokens(args.query), k=args.k)
    rows = [
        {
            "score": round(h.score, 5),
            "dense": round(h.dense, 4),
            "bm25": round(h.lexical, 4),
            "source": h.passage.source,
            "section": h.passage.section,
            "text": h.passage.text,
            "char_start": h.passage.char_start,
            "char_end": h.passage.char_end,
            "passage_id": h.passage.id,
        }
        for h in hits
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for n, r in enumerate(rows, 1):
        print(
            f"{n}. [{r['score']:.4f}] {r['source']} :: {' > '.join(r['section'])} [{r['char_start']}:{r['char_end']}]"
        )
        print("   " + " ".join(r["text"].split())[:300])
    return 0


def _print_answer(answer, as_json: bool) -> None:  # noqa: ANN001
    if as_json:
        print(answer.model_dump_json(indent=2))
        return
    print(answer.text)
    for c in answer.citations:
        print(f"  [{c.marker}] {c.title} > {' > '.join(c.section[1:])} ({c.source}:{c.char_start}-{c.char_end})")


def cmd_ask(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.service import open_coach

    coach = open_coach(_settings(args), _progress_bar())
    _print_answer(coach.ask(args.question), args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.answer import history_turn
    from coach.service import open_coach

    coach = open_coach(_settings(args), _progress_bar())
    print("Ask about the career guide. An empty line or Ctrl-D ends the chat; 'new' starts over.")
    history = []
    while True:
        try:
            question = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question.strip():
            return 0
        if question.strip().lower() == "new":
            history = []
            print("(new conversation)")
            continue
        answer = coach.ask(question, history)
        history.append(history_turn(answer))
        print("coach> ", end="")
        _print_answer(answer, False)


def cmd_batch(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.evaluate import read_conversations, run_conversation
    from coach.service import open_coach

    path = Path(args.file)
    if not path.is_file():
        raise CoachError(f"The batch file {path} does not exist.", "Pass a JSON Lines file of conversations.")
    coach = open_coach(_settings(args), _progress_bar())
    for _, conv in read_conversations(path):
        if isinstance(conv, str):
            print(f"error: {conv}", file=sys.stderr)
            continue
        print(run_conversation(coach, conv).model_dump_json(), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.corpus import read_source
    from coach.evaluate import format_report, read_conversations, run_conversation, score
    from coach.service import open_coach

    path = Path(args.file)
    if not path.is_file():
        raise CoachError(
            f"The eval file {path} does not exist.", "Pass a JSON Lines file like ../shared/eval/dev.jsonl."
        )
    settings = _settings(args)
    coach = open_coach(settings, _progress_bar())
    if args.sweep:
        from coach.answer import Thresholds

        coach.t = Thresholds(dense_floor=-1.0, ablation_gain=float("inf"))
    convs = []
    for _, conv in read_conversations(path):
        if isinstance(conv, str):
            print(f"error: {conv}", file=sys.stderr)
        else:
            convs.append(conv)
    results = [run_conversation(coach, c) for c in convs]
    sources = {g.source: read_source(settings.corpus_dir, g.source) for g in coach.index.manifest.guides}
    if args.sweep:
        from coach.evaluate import format_sweep, sweep

        floors = [0.0, 0.2, 0.25, 0.28, 0.3, 0.32, 0.35, 0.4]
        gains = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 99.0] if coach.reranker else [1.0, 2.0, 3.0, 4.0, 99.0]
        rows = sweep(convs, results, floors, gains)
        print(json.dumps([r.model_dump() for r in rows], indent=2) if args.json else format_sweep(rows))
        return 0
    report = score(convs, results, sources)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(f"reranker: {'on' if coach.reranker else 'off'}")
        print(format_report(report, failures=args.failures))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from coach.bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coach", description=DESCRIPTION)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--corpus", type=Path, default=None, help="folder of guides (default: corpus/, or $COACH_CORPUS)"
    )
    common.add_argument("--index", type=Path, default=None, help="index folder (default: index/, or $COACH_INDEX)")
    rerank = argparse.ArgumentParser(add_help=False)
    rerank.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("build-index", parents=[common], help="parse, chunk and embed the guides into the index")
    p.add_argument("--if-needed", action="store_true", help="only build when the index is missing or stale")
    p.set_defaults(func=cmd_build_index)

    p = sub.add_parser("search", parents=[common], help="show the passages that best match a query")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", parents=[common, rerank], help="answer one question with quoted, cited sentences")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[common, rerank], help="a conversation in the terminal (follow-ups understood)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser(
        "batch", parents=[common, rerank], help="answer conversations from a JSONL file, one JSON line each"
    )
    p.add_argument("file")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("eval", parents=[common, rerank], help="score answers against expected strings in a JSONL file")
    p.add_argument("file")
    p.add_argument("--failures", action="store_true", help="list every wrong turn")
    p.add_argument("--sweep", action="store_true", help="print the abstention trade-off over threshold pairs")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", parents=[common], help="measure latency, build time, memory and growth")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--eval-file", default="../shared/eval/dev.jsonl", help="questions for warm latency")
    p.add_argument("--sizes", default="1000,10000,100000", help="passage counts for the growth runs")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CoachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc} ({exc.filename or ''}). Check the path and permissions.", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one sentence on stderr, never a traceback
        print(
            f"error: Career Coach hit an unexpected problem ({type(exc).__name__}). Please report it.", file=sys.stderr
        )
        return 1
