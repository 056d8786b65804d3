"""Command line: build-index, search, ask, chat, batch, eval, train, import, bench, synth; audit and hash-password (coach/auditcli.py).

Heavy libraries (torch, faiss, onnxruntime) are imported inside the commands
that need them, so ``--help`` answers at once. Errors are one sentence on
stderr and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from coach.errors import CoachError

DESCRIPTION = "Career Coach: answers questions about career guides by quoting them, with citations."
GUIDE_HELP = "answer from this guide only (its file name in the corpus, e.g. electrician.txt)"


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
    bar = _progress_bar()
    phases: set[str] = set()

    def progress(phase: str, done: int, total: int) -> None:
        phases.add(phase)
        if phase == "wait":
            print(f"Another build of {settings.index_dir} is running; waiting for it to finish.", file=sys.stderr)
        elif phase != "embed" or total:  # nothing new to embed: every vector came from the cache
            bar(phase, done, total)

    manifest, warnings = build_index(settings, embedder, progress, if_stale=args.if_needed)
    if "save" not in phases:
        print(f"The index in {settings.index_dir} is up to date (another process built it meanwhile).")
        return 0
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(
        f"Indexed {len(manifest.guides)} guide(s): {manifest.passage_count} passages, "
        f"{manifest.unit_count} sentences, {manifest.index_type} index, in {manifest.build_seconds:.1f} s "
        f"-> {settings.index_dir / 'builds' / manifest.id} (now current)"
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach import lexical
    from coach.embed import SentenceTransformerEmbedder
    from coach.retrieve import check_guide, retrieve
    from coach.service import ensure_index

    settings = _settings(args)
    embedder = SentenceTransformerEmbedder(settings.model_path)
    index = ensure_index(settings, embedder, _progress_bar())
    guide = check_guide(index, args.guide)
    qvec = embedder.encode([args.query])[0]
    hits = retrieve(index, qvec, lexical.tokens(args.query), k=args.k, guide=guide)
    rows = [
        {
            "score": round(h.score, 5),
            "dense": round(h.dense, 4),
            "bm25": round(h.lexical, 4),
            "source": h.passage.source,
            "title": h.passage.title,
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
    for s in answer.sentences:
        if row := s.labelled_row():
            print(f"  (row [{s.citation}]: {row})")
    for c in answer.citations:
        print(f"  [{c.marker}] {c.title} > {' > '.join(c.section[1:])} ({c.source}:{c.char_start}-{c.char_end})")


def cmd_ask(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.service import open_coach

    coach = open_coach(_settings(args), _progress_bar())
    _print_answer(coach.ask(args.question, guide=args.guide), args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.answer import history_turn
    from coach.retrieve import check_guide, conversation_guide, guide_title
    from coach.service import open_coach

    coach = open_coach(_settings(args), _progress_bar())
    guide = check_guide(coach.index, args.guide)
    if guide is not None:
        print(f"Guide: {guide_title(coach.index, guide)} ({guide}).")
    print("Ask about the career guide. An empty line or Ctrl-D ends the chat; 'new' starts over.")
    history = []
    previous: str | None = None  # the guide the conversation is about, once a question named one
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
            previous = None
            print("(new conversation)")
            continue
        answer = coach.ask(question, history, guide=conversation_guide(coach.index, question, guide, previous))
        previous = answer.guide
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
    settings = _settings(args)
    coach = open_coach(settings, _progress_bar())
    store = None
    if args.record:
        from coach.audit import AuditStore
        from coach.review import record_conversation

        store = AuditStore.from_settings(settings)
    recorded = 0
    for _, conv in read_conversations(path):
        if isinstance(conv, str):
            print(f"error: {conv}", file=sys.stderr)
            continue
        if store is None:
            print(run_conversation(coach, conv).model_dump_json(), flush=True)
            continue
        answers, turn_ids = record_conversation(coach, store, conv)
        recorded += len(turn_ids)
        print(json.dumps({"id": conv.id, "turn_ids": turn_ids, "answers": [a.model_dump(mode="json") for a in answers]}), flush=True)  # fmt: skip
    if store is not None:
        print(f"Recorded {recorded} turn(s) in {store.location}.", file=sys.stderr)
    return 0


def _guide_sets(args: argparse.Namespace) -> list:  # noqa: ANN202
    """Guide sets from --sets and from QUESTIONS=GUIDE arguments."""
    from coach.evaluate import GuideSet, load_sets

    sets = []
    if args.sets:
        found, missing = load_sets(Path(args.sets))
        for m in missing:
            print(f"warning: skipped {m}", file=sys.stderr)
        sets += found
    for arg in args.files:
        questions, _, guide = arg.partition("=")
        if guide:
            for p in (questions, guide):
                if not Path(p).is_file():
                    raise CoachError(f"The file {p} does not exist.", "Pass QUESTIONS.jsonl=GUIDE.txt with real paths.")
            sets.append(GuideSet(name=Path(guide).stem, guide=Path(guide), questions=[Path(questions)]))
    return sets


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_eval(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.evaluate import format_report

    sets = _guide_sets(args)
    plain = [f for f in args.files if "=" not in f]
    if args.cv and len(sets) < 2:
        raise CoachError(
            "--cv needs two or more labelled guides to fit on.", "Add --sets eval/sets.json or QUESTIONS=GUIDE pairs."
        )
    if args.folds is not None and (not args.cv or args.folds < 2):
        print("error: --folds needs --cv and at least 2 groups (e.g. --cv --folds 11).", file=sys.stderr)
        return 2
    if args.folds is not None and len(sets) - math.ceil(len(sets) / args.folds) < 2:  # the largest group's fit
        print(f"error: --folds {args.folds} leaves fewer than 2 of the {len(sets)} guides to fit on; use fewer groups.",
              file=sys.stderr)  # fmt: skip
        return 2
    if not sets and not plain:
        raise CoachError(
            "No questions to evaluate.", "Pass a JSONL file, QUESTIONS=GUIDE pairs, or --sets eval/sets.json."
        )
    if sets:
        from coach.experiment import Workbench, evaluate_sets, fold_of
        from coach.model import load_model

        settings = _settings(args)
        kept = _kept_reader(args.model) if args.cv and args.reader == "kept" else None
        wb = Workbench(sets, Path(args.cache), settings, _log)
        model = None if args.cv else load_model(args.model)
        runs, pooled = evaluate_sets(
            wb, model, cv=args.cv, folds=args.folds, tuned=args.reader == "tuned" and wb.reranker is not None, kept=kept
        )
        if args.json:
            print(json.dumps({"guides": {r.name: r.model_dump() for r in runs}, "pooled": pooled.model_dump()}))
        else:
            k = len(set(fold_of([gs.name for gs in wb.sets], args.folds).values()))
            how = ("leave-one-guide-out: each guide answered by a model fitted without it" if k == len(wb.sets)
                   else f"guides held out in {k} groups: each answered by a model fitted without its group")  # fmt: skip
            tuned = bool(wb.readers) or (model is not None and model.reader is not None)
            on = ("on, tuned" if tuned else "on, as installed") if wb.reranker else "off"
            print(f"reranker: {on}; {how if args.cv else 'model: ' + (args.model or 'shipped')}")
            print(format_table(runs, pooled))
        if args.failures and not args.json:
            for r in runs:
                print(f"\n## {r.name}")
                print(format_report(r.report, failures=True))
    if plain:
        _eval_plain(args, plain)
    return 0


def _eval_plain(args: argparse.Namespace, plain: list[str]) -> None:
    """Question files asked of the --corpus index."""
    from coach.corpus import read_source
    from coach.evaluate import format_report, read_conversations, run_conversation, score
    from coach.model import load_model
    from coach.service import open_coach

    settings = _settings(args)
    coach = open_coach(settings, _progress_bar())
    coach.model = load_model(args.model)
    for name in plain:
        path = Path(name)
        if not path.is_file():
            raise CoachError(
                f"The eval file {path} does not exist.", "Pass a JSON Lines file like ../shared/eval/dev.jsonl."
            )
        convs = []
        for _, conv in read_conversations(path):
            if isinstance(conv, str):
                print(f"error: {conv}", file=sys.stderr)
            else:
                convs.append(conv)
        results = [run_conversation(coach, c) for c in convs]
        sources = {g.source: read_source(settings.corpus_dir, g.source) for g in coach.index.manifest.guides}
        report = score(convs, results, sources)
        if args.json:
            print(report.model_dump_json(indent=2))
        else:
            print(f"{path} (reranker: {'on' if coach.reranker else 'off'})")
            print(format_report(report, failures=args.failures))


def format_table(runs: list, pooled) -> str:  # noqa: ANN001
    """Coach figures per guide, then the tutorial pipeline's on the same turns, and latency as a ratio to it."""
    head = (
        f"{'guide':<38} {'single':>6} {'follow':>6} {'oos':>5} {'f.abst':>6} {'integr':>6} {'words':>5}"
        f" {'p50':>6} {'p95':>6} | {'tut.sgl':>7} {'tut.fol':>7} {'tut.wds':>7} {'p50 x':>6} {'p95 x':>6}"
    )
    lines = [head]
    for run in [*runs, pooled]:
        r, b = run.report, run.baseline
        lines.append(
            f"{run.name[:38]:<38} {r.single_hit:>6.3f} {r.followup_hit:>6.3f} {r.oos_abstention:>5.2f}"
            f" {r.false_abstention:>6.3f} {r.citation_integrity:>6.3f} {r.median_answer_words:>5.0f}"
            f" {r.latency_p50_ms:>6.0f} {r.latency_p95_ms:>6.0f} | {b.single_hit:>7.3f} {b.followup_hit:>7.3f}"
            f" {b.median_answer_words:>7.0f} {r.latency_p50_ms / max(b.latency_p50_ms, 0.01):>6.1f}"
            f" {r.latency_p95_ms / max(b.latency_p95_ms, 0.01):>6.1f}"
        )
    lines.append("p50/p95 in ms; 'x' columns: latency as a multiple of the tutorial pipeline's in this run.")
    return "\n".join(lines)


def _kept_reader(model_path: str | None) -> Path:
    """The tuned reader file of the model at ``model_path`` (default: the shipped one), which
    ``--reader kept`` keeps; a model without one is refused before any collecting."""
    from coach.model import load_model

    kept = load_model(model_path).reader_file()
    if kept is None or not kept.is_file():
        raise CoachError(
            f"--reader kept needs the tuned reader of the model at {model_path or 'coach/answer_model.json'}, "
            "and it has none.",
            "Pass --reader tuned to tune the readers as well, or a model that ships its reader.",
        )
    return kept


def cmd_train(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from coach.experiment import HALF_READERS, Workbench, keep_half_readers, require_reranker, train, write_trained
    from coach.model import DEFAULT_MODEL_FILE
    from coach.rerank import CrossEncoder

    sets = _guide_sets(args)
    if not sets:
        raise CoachError(
            "No labelled guides were found to train on.",
            "Pass --sets eval/sets.json (with ../shared beside the project).",
        )
    settings = _settings(args)
    out = Path(args.out)
    kept = _kept_reader(str(out) if out.is_file() else None) if args.reader == "kept" else None
    if args.reader != "installed":  # before an hour of collecting, not after it
        require_reranker(CrossEncoder(settings.reranker_dir) if settings.use_reranker else None)
    wb = Workbench(sets, Path(args.cache), settings, _log)
    model, tuned = train(wb, tuned=args.reader == "tuned", kept=kept)
    write_trained(model, tuned, out)
    if out.resolve() == DEFAULT_MODEL_FILE.resolve() and wb.half_readers:
        # The shipped model's half readers stay in the repository (eval/readers/), so that
        # --reader kept in a fresh clone tunes none; written only once the model is.
        keep_half_readers(wb.half_readers, HALF_READERS)
    print(
        f"Wrote {out}: fitted on {len(sets)} guides; out-of-guide replay {model.report}; thresholds {model.thresholds.model_dump()}"
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from coach.importer import import_file

    corpus = _settings(args).corpus_dir
    result = import_file(Path(args.file), corpus, name=args.name, force=args.force)
    print(
        f"Imported {args.file} -> {result.path}: '{result.title}', {result.sections} sections, "
        f"{result.table_rows} table rows, {result.words} words"
        + (f"; {result.clutter} lines of site clutter will be kept out of answers" if result.clutter else "")
        + ". The index is rebuilt on the next command (or make run)."
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from coach.bench import run_bench

    return run_bench(args)


def cmd_synth(args: argparse.Namespace) -> int:
    from coach.synth import write_corpus

    if args.guides < 1:
        print("error: --guides must be at least 1.", file=sys.stderr)
        return 2
    made = write_corpus(args.out, args.guides, args.seed, args.occupations or None)
    occupations = len({g.occupation for g in made})
    print(f"Wrote {len(made)} guides ({occupations} occupations) to {args.out}.")
    return 0


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
    p.add_argument("--guide", default=None, metavar="FILE", help=GUIDE_HELP)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", parents=[common, rerank], help="answer one question with quoted, cited sentences")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.add_argument("--guide", default=None, metavar="FILE", help=GUIDE_HELP)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[common, rerank], help="a conversation in the terminal (follow-ups understood)")
    p.add_argument("--guide", default=None, metavar="FILE", help=GUIDE_HELP)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser(
        "batch", parents=[common, rerank], help="answer conversations from a JSONL file, one JSON line each"
    )
    p.add_argument("file")
    p.add_argument(
        "--record",
        action="store_true",
        help="write the turns to the audit log ($COACH_AUDIT_URL or $COACH_AUDIT_DB) as the chat does",
    )
    p.set_defaults(func=cmd_batch)

    sets = argparse.ArgumentParser(add_help=False)
    sets.add_argument(
        "--sets", default=None, help="labelled guides, e.g. eval/sets.json (each guide gets its own index)"
    )
    sets.add_argument("--cache", default=".cache/eval", help="where per-guide indexes are kept (default .cache/eval)")
    p = sub.add_parser(
        "eval", parents=[common, rerank, sets], help="score answers against expected strings, per guide and pooled"
    )
    p.add_argument("files", nargs="*", help="QUESTIONS.jsonl (asked of --corpus) or QUESTIONS.jsonl=GUIDE.txt pairs")
    p.add_argument(
        "--cv", action="store_true", help="leave-one-guide-out: answer each guide with a model fitted without it"
    )
    p.add_argument(
        "--folds",
        type=int,
        default=None,
        metavar="K",
        help="with --cv: hold the guides out in K groups (guide i in group i mod K), K fits instead of one per guide",
    )
    p.add_argument("--model", default=None, help="answer model file (default: the shipped coach/answer_model.json)")
    p.add_argument(
        "--reader", choices=("tuned", "kept", "installed"), default="tuned",
        help="with --cv: tuned (default, as the shipped model reads) reads every guide with a cross-encoder "
        "fine-tuned on the half of the guides without it, on its in-scope and out-of-scope questions (about 25 min "
        "a half on 2 cores the first time, kept in --cache); kept: tune nothing, read as coach train --reader kept "
        "does (a guide the --model's reader was tuned on by the kept half reader without it, from eval/readers/ "
        "or --cache, any other by that reader); installed: the cross-encoder as installed",
    )  # fmt: skip
    p.add_argument("--failures", action="store_true", help="list every wrong turn")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("train", parents=[common, sets], help="fit the answer model on labelled guides")
    p.add_argument("files", nargs="*", help="more QUESTIONS.jsonl=GUIDE.txt pairs")
    p.add_argument("--out", default=str(Path(__file__).with_name("answer_model.json")), help="model file to write")
    p.add_argument(
        "--reader", choices=("tuned", "kept", "installed"), default="tuned",
        help="tuned (default, as the shipped model): also fine-tune the cross-encoder on the labelled guides' "
        "in-scope and out-of-scope questions: one reader per half, each guide's features read by the half without "
        "it (about 25 min a half on 2 cores), and one on all guides, written beside the model as OUT's name with "
        ".reader.safetensors (about 50 min; all "
        "kept in --cache); kept: tune nothing, refit only the answer model and keep OUT's reader (the shipped one "
        "when OUT does not exist): the guides it was tuned on are read by the half readers kept in eval/readers/ "
        "or --cache (tuned when neither has them), the others by it, as a new guide is. Writing the shipped model "
        "either way also keeps its half readers in eval/readers/; installed: fit on the cross-encoder as installed, no reader file. "
        "Each guide's collection is kept in --cache and reused while its files and the code are unchanged",
    )  # fmt: skip
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "import", parents=[common], help="turn a saved web page (.html) or a PDF into a Markdown guide in the corpus"
    )
    p.add_argument("file", help="the saved page (.html, .htm) or PDF")
    p.add_argument("--name", default=None, help="file name to write in the corpus (default: FILE's name, as .md)")
    p.add_argument("--force", action="store_true", help="replace a guide of the same name")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("bench", parents=[common], help="measure latency, build time, memory and scale")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--eval-file", default="../shared/eval/dev.jsonl", help="questions for warm latency")
    p.add_argument(
        "--guides", type=int, default=100, help="largest synthetic corpus for the scale runs (default 100; 0: none)"
    )
    p.add_argument(
        "--occupations", type=int, default=20, help="distinct occupations in it (default 20; 0: one per guide)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpora (default 0)")
    p.add_argument("--scale-only", action="store_true", help="skip the seed-guide cold start and build figures")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("synth", help="write N distinct guides recombined from the real ones (for benchmarks)")
    p.add_argument("--guides", type=int, required=True, help="how many guides to write")
    p.add_argument("--out", type=Path, required=True, help="folder to write them into")
    p.add_argument("--seed", type=int, default=0, help="same seed, same guides (default 0)")
    p.add_argument("--occupations", type=int, default=0, help="distinct occupations (default 0: every guide its own)")
    p.set_defaults(func=cmd_synth)

    from coach.auditcli import add_parsers

    add_parsers(sub, common)
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
