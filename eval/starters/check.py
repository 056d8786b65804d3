"""Check a question file against its guide: every expected string is in the guide, ids are unique.

Usage: python eval/starters/check.py GUIDE QUESTIONS.jsonl

Strings are compared as the scorer compares them (case, curly quotes and
whitespace ignored). Prints each string not found and a count; exits 1 if any.
"""

from __future__ import annotations

import json
import sys

QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def norm(text: str) -> str:
    return " ".join(text.translate(QUOTES).lower().split())


def main(guide: str, questions: str) -> int:
    with open(guide, encoding="utf-8") as f:
        text = norm(f.read())
    ids: set[str] = set()
    missing = 0
    with open(questions, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            conv = json.loads(line)
            if conv["id"] in ids:
                print(f"line {n}: id {conv['id']} used twice")
                missing += 1
            ids.add(conv["id"])
            for turn in conv["turns"]:
                if turn.get("abstain"):
                    if turn.get("expect_any"):
                        print(f"line {n}: an abstain turn has expected strings")
                        missing += 1
                    continue
                if not turn.get("expect_any"):
                    print(f"line {n}: a turn has no expected strings")
                    missing += 1
                for expected in turn.get("expect_any", []):
                    if norm(expected) not in text:
                        print(f"line {n}: not in guide: {expected!r}")
                        missing += 1
    print(f"{len(ids)} conversations, {missing} strings not found")
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("Usage: python eval/starters/check.py GUIDE QUESTIONS.jsonl", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
