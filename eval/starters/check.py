"""Check a starters file: every expect_any string is in the guide (as the scorer normalises), ids unique."""
import json, sys
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
def norm(t): return " ".join(t.translate(QUOTES).lower().split())
guide, questions = sys.argv[1], sys.argv[2]
g = norm(open(guide, encoding="utf-8").read())
ids, bad = set(), 0
for n, line in enumerate(open(questions, encoding="utf-8"), 1):
    if not line.strip(): continue
    c = json.loads(line)
    assert c["id"] not in ids, c["id"]; ids.add(c["id"])
    for t in c["turns"]:
        if t.get("abstain"):
            assert not t.get("expect_any"), (n, "abstain turns have no expect_any")
            continue
        assert t["expect_any"], (n, "no expect_any")
        for e in t["expect_any"]:
            if norm(e) not in g:
                bad += 1; print(f"line {n}: not in guide: {e!r}")
print(f"{len(ids)} conversations, {bad} strings not found")
