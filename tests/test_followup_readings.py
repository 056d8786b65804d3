"""The follow-up benchmark (benchmarks/followup_readings.py) measures its learned decision without a leak."""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def fr():  # noqa: ANN201
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("followup_readings")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def _turn(guide: str, n: int) -> SimpleNamespace:
    return SimpleNamespace(guide=guide, conv=f"{guide}-c{n}", turn=1, followup=True, evidence={"opens": float(n % 2)})


def _replay(turns: list, topic_right: bool, reading: str) -> dict:
    """A replay where the topic reading ("rules", since every turn is a follow-up) is right or wrong."""
    ok = topic_right if reading == "rules" else not topic_right
    return {(t.guide, t.conv, t.turn): {"ok": ok, "abst": False, "p": 0.8, "top": 1.0} for t in turns}


def test_the_nested_decision_never_learns_from_replays_that_saw_the_held_out_guides(fr) -> None:  # noqa: ANN001
    """Each group's decision is fitted on the inner replays (models without that group), never on the
    outer ones: here the outer replays say the alone reading is right everywhere, the inner ones say
    the topic reading is. A decision fitted on the outer replays would pick the alone reading."""
    guides = [f"g{i}" for i in range(6)]
    later = [_turn(g, n) for g in guides for n in range(4)]
    outer = {r: _replay(later, topic_right=False, reading=r) for r in ("rules", "other")}
    inner = {r: {g: _replay(later, topic_right=True, reading=r) for g in range(fr.NESTED_GROUPS)} for r in ("rules", "other")}  # fmt: skip
    rules = {"outer": outer["rules"], "inner": inner["rules"]}
    other = {"outer": outer["other"], "inner": inner["other"]}
    for learner in fr.LEARNERS:
        picked = fr.nested_choice(later, rules, other, learner)
        assert set(picked) == {(t.guide, t.conv, t.turn) for t in later}
        # The topic reading, as the inner fit says.
        assert all(p is outer["rules"][k] for k, p in picked.items()), learner
    # The plain replay learns from the other guides' outer scores: it picks the alone reading.
    plain = fr.learned_choice(later, outer["rules"], outer["other"], "logistic")
    assert all(p is outer["other"][k] for k, p in plain.items())
