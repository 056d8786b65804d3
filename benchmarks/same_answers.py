"""Does a change alter any answer? The shipped model's answers on labelled guides, saved and compared.

    .venv/bin/python benchmarks/same_answers.py --save before.json            # on the code before the change
    .venv/bin/python benchmarks/same_answers.py --save after.json --against before.json

Runs the shipped answer model (or ``--model FILE``) over every ``--every``-th guide of
``--sets`` (default ``eval/sets.json``, every third guide: 13 of 38 guides, about 2 min),
each conversation as ``coach eval --sets`` asks it, and saves every answer's text, abstention
and citations. With ``--against``, prints how many answers differ (text, abstention or the
passages cited) and the first few, and how many differ only in their citations' scores, and
exits 1 if anything differs. For a change meant to make answering faster or tidier without changing
what it says (a cache, a vectorised loop); a change meant to move answers needs
``coach eval --sets eval/sets.json --cv`` instead. Prints the warm p50 latency of the run too,
which is only comparable with a run made on the same machine at a quiet moment.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def answers(sets_file: Path, every: int, model_file: str | None) -> tuple[dict[str, list], list[float]]:
    from coach.cli import _quiet_libraries
    from coach.evaluate import load_sets
    from coach.experiment import Workbench
    from coach.model import load_model
    from coach.settings import Settings

    _quiet_libraries()
    sets, _ = load_sets(sets_file)
    wb = Workbench(sets, ROOT / ".cache" / "eval", Settings(), lambda m: print(m, file=sys.stderr))
    model = load_model(model_file)
    out: dict[str, list] = {}
    latency: list[float] = []
    for i, gs in enumerate(wb.sets):
        if i % every:
            continue
        _, results = wb.run(gs, model)
        said = [a for r in results for a in r.answers]
        out[gs.name] = [
            {"text": a.text, "abstained": a.abstained, "citations": [c.model_dump(mode="json") for c in a.citations]}
            for a in said
        ]
        latency += [a.latency_ms for a in said]
    return out, latency


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sets", type=Path, default=ROOT / "eval" / "sets.json", help="labelled guides (default eval/sets.json)"
    )
    ap.add_argument("--every", type=int, default=3, help="answer every Nth guide of the sets (default 3)")
    ap.add_argument("--model", help="answer model file (default: the shipped one)")
    ap.add_argument("--save", type=Path, required=True, help="write the answers here (JSON)")
    ap.add_argument("--against", type=Path, help="answers saved before: report every difference")
    args = ap.parse_args()
    t0 = time.perf_counter()
    got, latency = answers(args.sets, max(1, args.every), args.model)
    args.save.write_text(json.dumps(got, indent=0), encoding="utf-8")
    n = sum(map(len, got.values()))
    print(f"{len(got)} guides, {n} answers in {time.perf_counter() - t0:.0f} s; warm p50 {np.median(latency):.1f} ms")
    if args.against is None:
        return 0
    before = json.loads(args.against.read_text(encoding="utf-8"))
    pairs = [
        (g, k, a, b)
        for g in sorted(set(got) & set(before))
        for k, (a, b) in enumerate(zip(before[g], got[g], strict=False))
        if a != b
    ]
    # What a job seeker would see: the text, the abstention, the passages cited (not their scores).
    differ = [(g, k, a["text"], b["text"]) for g, k, a, b in pairs if _seen(a) != _seen(b)]
    if len(pairs) > len(differ):
        print(f"{len(pairs) - len(differ)} answers say the same with other citation scores")
    missing = sorted(set(before) ^ set(got)) + [g for g in set(got) & set(before) if len(got[g]) != len(before[g])]
    print(
        f"{len(differ)} of {n} answers differ" + (f"; guides or turns not in both runs: {missing}" if missing else "")
    )
    for g, k, a, b in differ[:5]:
        print(f"  {g} answer {k}:\n    before: {a[:120]!r}\n    after:  {b[:120]!r}")
    return 1 if pairs or missing else 0


def _seen(answer: dict) -> tuple:
    cited = [{k: v for k, v in c.items() if k != "score"} for c in answer["citations"]]
    return answer["text"], answer["abstained"], cited


if __name__ == "__main__":
    raise SystemExit(main())
