"""What reading a guide ahead saves the first questions on it (the late reader's encoding).

    .venv/bin/python benchmarks/read_ahead.py [--questions ../shared/eval/dev.jsonl]

On the index of ``corpus/`` (built if needed), with the models loaded and
warmed up as the app does (``coach.service.open_coach``), it answers the
first turn of each conversation in the file three ways, each with a fresh
late-interaction reader (its model loaded, nothing read: a new app process):

- cold: nothing read ahead, the questions encode what they reach;
- read ahead: ``Coach.read_ahead()`` has finished before the first question;
- warm: the same questions again on the "cold" reader (what every later question costs).

It prints how long reading ahead took and each way's first-question and
p50 latency, as a ratio to the warm p50 measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    ap.add_argument("--limit", type=int, default=20, help="first turns to ask (default 20)")
    args = ap.parse_args()

    from coach.answer import Coach
    from coach.cli import _quiet_libraries
    from coach.late import LateReader
    from coach.service import open_coach
    from coach.settings import Settings

    _quiet_libraries()
    base = open_coach(Settings.from_env())
    if base.late is None:
        print("The late-interaction reader is off (COACH_RERANKER=0 or not installed): nothing to read ahead.")
        return 1
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["turns"][0]["q"] for line in lines if line.strip()][: args.limit]

    def fresh() -> Coach:
        late = LateReader(base.late.model_dir)
        late.query("warm up")  # model loaded, as the app's start-up does (service.open_models)
        return Coach(base.index, base.embedder, base.reranker, late=late)

    def times(coach: Coach) -> list[float]:
        out = []
        for q in questions:
            t = time.perf_counter()
            coach.ask(q)
            out.append((time.perf_counter() - t) * 1000)
        return out

    cold_coach = fresh()
    cold = times(cold_coach)
    warm = times(cold_coach)
    ahead_coach = fresh()
    t = time.perf_counter()
    ahead_coach.read_ahead().join()
    took = time.perf_counter() - t
    ahead = times(ahead_coach)
    ref = statistics.median(warm)
    units = sum(len(p.units) for p in base.index.passages)
    print(
        f"{len(questions)} first turns of {args.questions.name}; {units} units in {len(base.index.passages)} passages"
    )
    print(f"read ahead in {took:.1f} s ({ahead_coach.late._tokens} token states kept)")
    print(f"{'way':<11} {'first ms':>9} {'p50 ms':>8} {'first/warm p50':>15} {'p50/warm p50':>13}")
    for name, lat in (("cold", cold), ("read ahead", ahead), ("warm", warm)):
        p50 = statistics.median(lat)
        print(f"{name:<11} {lat[0]:>9.0f} {p50:>8.0f} {lat[0] / ref:>15.1f}x {p50 / ref:>12.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
