"""Fault injection for issue 10: concurrent and killed builds, audited turns across rebuilds, staff lockout, CSV export.

    .venv/bin/python benchmarks/faults.py            # the issue's figures, fake embedder (a few minutes)
    .venv/bin/python benchmarks/faults.py --quick    # small settings (the test suite runs this)
    .venv/bin/python benchmarks/faults.py --real     # the real embedding model (slow)

Everything happens in a temporary folder: a copy of the seed guide and two
shared guides, an index and an audit database of its own. Each target prints
one ``PASS`` or ``FAIL`` line with its figures; the exit code is 1 when any
target fails. By default a deterministic hashing embedder stands in for the
model, so the figures are about the index, the audit store and the login
guard, not about embedding speed.

1. builds: N processes build the same index at once (one builds, the others
   find it fresh); then K builds are killed with SIGKILL at random moments and,
   after each kill, whichever build is current loads and answers; the next
   build leaves no temporary folder behind.
2. audit: T threads x M turns go into one audit store while the index is
   rebuilt underneath (the corpus edited before each rebuild); every row is
   there and every citation matches the build it came from (``coach.verify``
   in-process, then ``python -m coach audit verify``).
3. login: 20 wrong passwords from one browser, then from 20 browsers (a
   clock is injected into ``LoginGuard``): the login locks, the right
   password is refused until the window ends and accepted after it, and
   every attempt is in the log.
4. export: a turn asking ``=HYPERLINK("http://x","y")`` exported as CSV (in
   process and by ``python -m coach audit export``) has that cell as text.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from coach import lexical  # noqa: E402
from coach.settings import Settings  # noqa: E402

SEED = ROOT / "corpus" / "health-information-systems-technician.txt"
SHARED_GUIDES = [Path("/work/shared/guides/devops-engineer.md"), Path("/work/shared/guides/financial-controller.txt")]
FIXTURE_GUIDE = ROOT / "tests" / "fixtures" / "wind-turbine-technician.txt"
PROBE = "How do I become a health information systems technician?"
QUESTIONS = [
    PROBE,
    "Which databases should I learn?",
    "What does a health information systems technician earn?",
    "What skills does a devops engineer need?",
    "What does a financial controller do?",
    "Which certifications help in health IT?",
    "What is the career path after a junior role?",
    "Is this job in demand?",
]
PHASES = {"started": "starting", "wait": "waiting", "parse": "parsing", "embed": "embedding",
          "fsync": "syncing+switching", "save": "after the switch", "result": "after the switch"}  # fmt: skip
"""What a killed build was doing, from the last line it printed."""
FORMULA = '=HYPERLINK("http://x","y")'
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class FakeEmbedder:
    """Deterministic bag-of-stems hashing embedder (as in tests/conftest.py): no model, same text -> same vector.

    ``per_text_s`` makes it sleep per text, so a build lasts long enough to be killed in any phase.
    """

    model_id = "fake/hashing@1"
    dimension = 64

    def __init__(self, per_text_s: float = 0.0) -> None:
        self.per_text_s = per_text_s

    def encode(self, texts, batch_size: int = 32, progress=None) -> np.ndarray:  # noqa: ANN001
        if progress is not None:
            progress(0, len(texts))
        if self.per_text_s:
            time.sleep(self.per_text_s * len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for tok in lexical.tokens(text) or ["_empty"]:
                h = int(hashlib.md5(tok.encode()).hexdigest(), 16)
                out[row, h % self.dimension] += 1.0 if (h >> 8) % 2 else -1.0
            out[row] /= np.linalg.norm(out[row]) or 1.0
            if progress is not None:
                progress(row + 1, len(texts))
        return out


def make_embedder(real: bool, per_text_s: float = 0.0):  # noqa: ANN201
    if not real:
        return FakeEmbedder(per_text_s)
    from coach.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(Settings().model_path)


def _settings(base: Path, name: str) -> Settings:
    return Settings(corpus_dir=base / name / "corpus", index_dir=base / name / "index",
                    audit_db=base / name / "audit.sqlite3", use_reranker=False)  # fmt: skip


def make_corpus(folder: Path) -> None:
    folder.mkdir(parents=True)
    shutil.copy(SEED, folder / SEED.name)
    for guide in [g for g in SHARED_GUIDES if g.is_file()] or [FIXTURE_GUIDE]:
        shutil.copy(guide, folder / guide.name)


def strays(index_dir: Path) -> list[str]:
    """Temporary folders and pointers of builds that did not finish."""
    builds = index_dir / "builds"
    found = [p.name for p in builds.iterdir() if p.name.startswith(".")] if builds.is_dir() else []
    return found + [p.name for p in index_dir.glob(".tmp-*")]


def answers(settings: Settings, embedder, check: bool = False) -> tuple[str, bool]:  # noqa: ANN001
    """Load whichever build is current and ask the probe question: (manifest id, answered with a citation)."""
    from coach.answer import Coach
    from coach.index import load_index

    index = load_index(settings, embedder.model_id, check=check)
    answer = Coach(index, embedder).ask(PROBE)
    return index.manifest.id, not answer.abstained and bool(answer.citations)


def report(name: str, ok: bool, figures: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {figures}", flush=True)
    return ok


# -- a build in a child process -------------------------------------------------------------


def child_build(args: argparse.Namespace) -> int:
    """Build once and say which phases it reached (one line each, flushed, for the parent to read)."""
    from coach.index import build_index

    settings = Settings(corpus_dir=Path(args.corpus), index_dir=Path(args.index), use_reranker=False)
    seen: set[str] = set()

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in seen:
            seen.add(phase)
            print(f"phase {phase}", flush=True)

    if args.slow_fsync:  # a slow disk: the window between writing a build and switching to it grows
        import coach.builds

        real_fsync = coach.builds._fsync

        def slow_fsync(path: Path) -> None:
            progress("fsync", 0, 0)
            time.sleep(args.slow_fsync)
            real_fsync(path)

        coach.builds._fsync = slow_fsync
    print("phase started", flush=True)
    manifest, _ = build_index(settings, make_embedder(args.real, args.slow), progress, if_stale=args.if_stale)
    print(f"result {manifest.id} built={int('parse' in seen)}", flush=True)
    return 0


def spawn_build(
    settings: Settings,
    real: bool,
    out,  # noqa: ANN001
    err=subprocess.PIPE,  # noqa: ANN001
    if_stale: bool = False,
    slow: tuple[float, float] = (0.0, 0.0),
) -> subprocess.Popen:
    """A child process building ``settings``'s index; ``slow``: (seconds per text embedded, per fsync)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "_build", str(settings.corpus_dir),
           str(settings.index_dir), "--slow", str(slow[0]), "--slow-fsync", str(slow[1])]  # fmt: skip
    cmd += ["--if-stale"] * if_stale + ["--real"] * real
    return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, text=True)


# -- 1. builds ---------------------------------------------------------------------------------


def target_builds(base: Path, args: argparse.Namespace, embedder) -> bool:  # noqa: ANN001
    from coach.builds import current_id, kept_builds
    from coach.index import build_index

    s = _settings(base, "builds")
    make_corpus(s.corpus_dir)
    started = time.perf_counter()
    procs = [spawn_build(s, args.real, subprocess.PIPE, if_stale=True) for _ in range(args.processes)]
    outs = [p.communicate() for p in procs]
    concurrent_s = time.perf_counter() - started
    codes = [p.returncode for p in procs]
    results = [line.split() for out, _ in outs for line in out.splitlines() if line.startswith("result ")]
    ids = {r[1] for r in results}
    built = sum(r[2] == "built=1" for r in results)
    kept = [mid for mid, _ in kept_builds(s.index_dir)]
    mid, answered = answers(s, embedder, check=True)
    errors = [err.strip().splitlines()[-1] for (_, err), c in zip(outs, codes, strict=True) if c != 0 and err.strip()]
    ok1 = (codes == [0] * args.processes and len(ids) == 1 and built == 1 and kept == [mid] and answered
           and not strays(s.index_dir))  # fmt: skip
    report("builds/concurrent", ok1,
           f"{args.processes} processes in {concurrent_s:.1f} s: exit codes {sorted(Counter(codes).items())}, "
           f"{built} built, {len(results) - built} found it fresh, {len(ids)} manifest id(s), {len(kept)} build(s) "
           f"kept, index {mid} answers: {answered}" + (f"; errors: {errors[:2]}" if errors else ""))  # fmt: skip

    # A variant of one guide under a new title each round, so every build embeds a few hundred new texts.
    variant_src = s.corpus_dir / SEED.name
    variant_text = variant_src.read_text(encoding="utf-8")

    def new_variant(n: int) -> None:
        (s.corpus_dir / "variant.txt").write_text(f"Variant Technician {n}\n\n{variant_text}", encoding="utf-8")

    new_variant(0)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        p = spawn_build(s, args.real, out, subprocess.STDOUT, slow=(args.slow, args.slow_fsync))
        p.wait()
        out.seek(0)
        err = out.read()
    full_s = time.perf_counter() - t0
    if p.returncode != 0:
        return report("builds/killed", False, f"an unkilled build failed: {err.strip()[-300:]}")
    rng = random.Random(args.seed)
    phases: Counter[str] = Counter()
    outcome: Counter[str] = Counter()
    failures: list[str] = []
    strays_after_kill = finished = n = 0
    # A build that finishes before its random moment is not a kill: go on until `kills` builds were killed.
    while outcome.total() < args.kills and n < 3 * args.kills:
        n += 1
        before = current_id(s.index_dir)
        new_variant(n)
        delay = rng.uniform(0.0, full_s)
        killed = False
        with tempfile.TemporaryFile("w+") as out:
            p = spawn_build(s, args.real, out, subprocess.STDOUT, slow=(args.slow, args.slow_fsync))
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
                killed = True
            out.seek(0)
            printed = out.read()
        lines = [PHASES.get(line.split()[-1 if line.startswith("phase ") else 0], "")
                 for line in printed.splitlines() if line.startswith(("phase ", "result "))]  # fmt: skip
        if not killed:
            finished += 1
            if p.returncode != 0:
                failures.append(f"build {n} failed by itself: {printed.strip()[-300:]}")
            continue
        last = lines[-1] if lines else "importing"
        phases[last] += 1
        strays_after_kill += bool(strays(s.index_dir))
        try:
            mid, answered = answers(s, embedder)
        except Exception as exc:  # noqa: BLE001 - any failure to load is what this target looks for
            failures.append(f"kill {n} at {delay:.2f} s ({last}): {type(exc).__name__}: {exc}")
            outcome["broken"] += 1
            continue
        outcome["previous" if mid == before else "new"] += 1
        if not answered:
            failures.append(f"kill {n} ({last}): index {mid} did not answer")
    build_index(s, embedder, if_stale=True)
    left = strays(s.index_dir)
    mid, answered = answers(s, embedder, check=True)
    ok2 = not failures and not left and answered and outcome.total() == args.kills
    report("builds/killed", ok2,
           f"{outcome.total()} builds killed with SIGKILL at random in 0-{full_s:.1f} s (a whole build takes "
           f"{full_s:.1f} s; {finished} more finished first); killed while {dict(sorted(phases.items()))}; "
           f"afterwards the previous build served {outcome['previous']}x, the new one (killed after the switch) "
           f"{outcome['new']}x, and it loaded and answered {outcome.total() - len(failures)}/{outcome.total()}; "
           f"stray temp folders after {strays_after_kill} kill(s), {len(left)} after the next build"
           + (f"; {failures[:3]}" if failures else ""))  # fmt: skip
    return ok1 and ok2


# -- 2. audited turns while the index is rebuilt ------------------------------------------------


def target_audit(base: Path, args: argparse.Namespace, embedder) -> bool:  # noqa: ANN001
    from coach.answer import Coach
    from coach.audit import AuditStore, TurnFilter
    from coach.index import build_index, load_index
    from coach.verify import Verifier

    s = _settings(base, "audit")
    make_corpus(s.corpus_dir)
    build_index(s, embedder)
    store = AuditStore(s.audit_db)
    serving = {"coach": Coach(load_index(s, embedder.model_id), embedder)}
    swap = threading.Lock()
    done = Counter()
    done_lock = threading.Condition()
    total = args.threads * args.turns
    errors: list[str] = []
    guide = s.corpus_dir / SEED.name
    edits: list[Callable[[str], str]] = [
        lambda t: t + "\n\nNight Shifts\n\nSome hospitals need technicians on call at night and at weekends.\n",
        lambda t: t.replace("Health Information", "Health-Information"),  # changes most quotes of this guide
    ]

    # Rebuild k starts once `starts[k]` turns are recorded; turns from `gates[k]` on wait until it is
    # served, so every build answers some turns and many turns are answered while a build runs.
    starts = [total * (2 * k + 1) // (2 * (args.rebuilds + 1)) for k in range(args.rebuilds)]
    gates = [total * (k + 1) // (args.rebuilds + 1) for k in range(args.rebuilds)]
    state = {"published": 0, "building": False, "during": 0}

    def rebuild_underneath() -> None:
        for k in range(args.rebuilds):
            with done_lock:
                done_lock.wait_for(lambda k=k: done["turns"] >= starts[k] or errors)
                state["building"] = True
            try:
                guide.write_text(edits[k % len(edits)](guide.read_text(encoding="utf-8")), encoding="utf-8")
                build_index(s, embedder)
                fresh = Coach(load_index(s, embedder.model_id, check=False), embedder)
            except Exception as exc:  # noqa: BLE001 - reported as a failure of the target
                errors.append(f"rebuild {k + 1}: {type(exc).__name__}: {exc}")
            with swap:  # as the app does: the next question goes to the new build
                serving["coach"] = fresh
            with done_lock:
                state["published"] += 1
                state["building"] = False
                done_lock.notify_all()

    def chat(worker: int) -> None:
        rng = random.Random(args.seed * 1000 + worker)
        try:
            for turn in range(1, args.turns + 1):
                with done_lock:
                    ticket = done["started"]
                    done["started"] += 1
                    done_lock.wait_for(lambda t=ticket: state["published"] >= sum(t >= g for g in gates) or errors)
                with swap:
                    coach = serving["coach"]
                answer = coach.ask(rng.choice(QUESTIONS))
                store.record_turn(f"faults-{worker}", turn, answer, coach.index.manifest.id)
                with done_lock:
                    done["turns"] += 1
                    state["during"] += state["building"]
                    done_lock.notify_all()
        except Exception as exc:  # noqa: BLE001 - reported as a failure of the target
            errors.append(f"thread {worker}: {type(exc).__name__}: {exc}")
            with done_lock:
                done_lock.notify_all()

    started = time.perf_counter()
    builder = threading.Thread(target=rebuild_underneath)
    builder.start()
    workers = [threading.Thread(target=chat, args=(w,)) for w in range(args.threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    builder.join()
    took = time.perf_counter() - started
    rows, cited = store.count()
    verifier = Verifier(s.index_dir, s.corpus_dir)
    turns = store.turns(TurnFilter(limit=None))
    by_turn = Counter(verifier.check(t).status for t in turns)
    by_citation = Counter(c.status for t in turns for c in verifier.check(t).citations)
    builds_cited = len({t.manifest_id for t in turns})
    store.close()
    cli = subprocess.run(
        [sys.executable, "-m", "coach", "audit", "verify", "--db", str(s.audit_db), "--index", str(s.index_dir),
         "--corpus", str(s.corpus_dir)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    summary = (cli.stderr.strip().splitlines() or [""])[0]
    ok = (not errors and rows == total and by_turn["mismatch"] == by_turn["gone"] == 0 and cited > 0
          and builds_cited == args.rebuilds + 1 and cli.returncode == 0)  # fmt: skip
    return report("audit/rebuilt-underneath", ok,
                  f"{args.threads} threads x {args.turns} turns in {took:.1f} s with {args.rebuilds} rebuild(s): "
                  f"{rows}/{total} rows ({state['during']} recorded while a build ran), {cited} citations from {builds_cited} build(s); turns "
                  f"{dict(sorted(by_turn.items()))}, citations {dict(sorted(by_citation.items()))}; "
                  f"`audit verify` exit {cli.returncode}: {summary}" + (f"; {errors[:2]}" if errors else ""))  # fmt: skip


# -- 3. staff login ----------------------------------------------------------------------------


class Clock:
    """Time that moves only when told to (injected into LoginGuard)."""

    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


def target_login(base: Path, args: argparse.Namespace) -> bool:
    from coach.audit import AuditStore
    from coach.staffauth import LoginGuard, LoginPolicy, StaffSecret, hash_password

    secret = StaffSecret(kind="hash", value=hash_password("correct horse battery"))
    policy = LoginPolicy()
    ok_all = True
    for scenario in ("one browser", "20 browsers"):
        store = AuditStore(base / f"login-{scenario.split()[0]}.sqlite3")
        clock = Clock()
        guard = LoginGuard(store, policy, now=clock)
        outcomes: list[str] = []
        checked = let_in = 0
        first_wrong = clock.t
        locked_at = None
        for n in range(20):
            key = "attacker" if scenario == "one browser" else f"attacker-{n}"
            gate = guard.gate(key)
            # The attacker waits out any delay (up to a minute) but not a lockout.
            if not gate.open and gate.reason == "delay":
                clock.t += gate.wait_s + 0.1
            result = guard.attempt(key, f"guess-{n}", secret, client="203.0.113.9")
            outcomes.append(store.login_events(limit=1)[0].outcome)
            checked += outcomes[-1] == "failed"
            if locked_at is None and guard.gate(key).reason in ("session", "global"):
                locked_at = n + 1
            let_in += result.ok
            clock.t += 1.0
        staff = "attacker" if scenario == "one browser" else "staff-browser"
        refused_now = not guard.attempt(staff, "correct horse battery", secret).ok
        outcomes.append(store.login_events(limit=1)[0].outcome)
        lock_ends = first_wrong + policy.window_s
        clock.t = lock_ends - 1.0
        refused_before_end = not guard.attempt(staff, "correct horse battery", secret).ok
        outcomes.append(store.login_events(limit=1)[0].outcome)
        clock.t = lock_ends + 1.0
        accepted_after = guard.attempt(staff, "correct horse battery", secret).ok
        outcomes.append(store.login_events(limit=1)[0].outcome)
        logged = [e.outcome for e in reversed(store.login_events(limit=1000))]
        store.close()
        ok = (locked_at is not None and not let_in and refused_now and refused_before_end and accepted_after
              and logged == outcomes and len(logged) == 23)  # fmt: skip
        ok_all &= report(f"login/{scenario.replace(' ', '-')}", ok,
                         f"20 wrong passwords: {checked} checked, then locked after attempt {locked_at}; outcomes "
                         f"{dict(Counter(outcomes[:20]))}; right password refused at once: {refused_now}, 1 s before "
                         f"the {policy.window_s / 60:.0f}-minute window ends: {refused_before_end}, accepted 1 s "
                         f"after: {accepted_after}; {len(logged)}/23 attempts in the log, in order: "
                         f"{logged == outcomes}")  # fmt: skip
    return ok_all


# -- 4. CSV export -------------------------------------------------------------------------------


def target_export(base: Path, args: argparse.Namespace, embedder) -> bool:  # noqa: ANN001
    from coach.answer import Coach
    from coach.audit import AuditStore, TurnFilter
    from coach.export import to_csv
    from coach.index import build_index, load_index

    s = _settings(base, "export")
    make_corpus(s.corpus_dir)
    build_index(s, embedder)
    coach = Coach(load_index(s, embedder.model_id), embedder)
    store = AuditStore(s.audit_db)
    for q in (FORMULA, "+1 555 0100 is my number", "@everyone what pays best?", "-5 degrees outside, any jobs?"):
        store.record_turn("faults-export", 1, coach.ask(q), coach.index.manifest.id)
    in_process = to_csv(store.iter_turns(TurnFilter(limit=None)))
    store.close()
    cli = subprocess.run([sys.executable, "-m", "coach", "audit", "export", "--format", "csv", "--db", str(s.audit_db)],
                         cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    figures = []
    ok = cli.returncode == 0
    for name, text in (("in process", in_process), ("audit export", cli.stdout)):
        rows = list(csv.DictReader(io.StringIO(text)))
        cell = next((r["question"] for r in rows if FORMULA in r["question"]), None)
        live = [v for r in rows for v in r.values() if isinstance(v, str) and v.startswith(FORMULA_START)]
        ok &= cell == "'" + FORMULA and not live and len(rows) == 4
        figures.append(f"{name}: {len(rows)} rows, question cell {cell!r}, {len(live)} cell(s) a spreadsheet would run")
    return report("export/csv-formula", ok, "; ".join(figures))


# -- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("_build", help=argparse.SUPPRESS)
    child.add_argument("corpus")
    child.add_argument("index")
    child.add_argument("--if-stale", action="store_true")
    child.add_argument("--slow", type=float, default=0.0)
    child.add_argument("--slow-fsync", type=float, default=0.0)
    child.add_argument("--real", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 processes, 3 kills, 2 threads x 5 turns, 1 rebuild")
    parser.add_argument("--real", action="store_true", help="the real embedding model instead of the fake one")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--turns", type=int, default=50, help="turns per thread")
    parser.add_argument("--rebuilds", type=int, default=2)
    parser.add_argument("--slow", type=float, default=0.004,
                        help="seconds the fake embedder sleeps per text in killed builds (default 0.004)")  # fmt: skip
    parser.add_argument("--slow-fsync", type=float, default=0.03,
                        help="seconds each fsync of a killed build sleeps, a slow disk (default 0.03)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--only", choices=("builds", "audit", "login", "export"), action="append",
                        help="run only these targets (repeatable)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args(argv)
    if args.command == "_build":
        return child_build(args)
    if args.quick:
        args.processes, args.kills, args.threads, args.turns, args.rebuilds = 3, 3, 2, 5, 1
    if args.real:
        args.slow = 0.0  # the real model is slow enough
    os.environ.pop("COACH_AUDIT_URL", None)  # every store here is a temporary SQLite file
    embedder = make_embedder(args.real)
    base = Path(tempfile.mkdtemp(prefix="coach-faults-"))
    targets = args.only or ["builds", "audit", "login", "export"]
    print(f"Fault injection ({'real model' if args.real else 'fake embedder'}) in {base}", flush=True)
    started = time.perf_counter()
    results = []
    try:
        if "builds" in targets:
            results.append(target_builds(base, args, embedder))
        if "audit" in targets:
            results.append(target_audit(base, args, embedder))
        if "login" in targets:
            results.append(target_login(base, args))
        if "export" in targets:
            results.append(target_export(base, args, embedder))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    failed = results.count(False)
    print(f"{'FAIL' if failed else 'PASS'}: {len(results) - failed}/{len(results)} targets "
          f"in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
