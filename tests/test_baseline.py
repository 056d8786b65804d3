"""The tutorial pipeline every figure is compared with."""

from __future__ import annotations

from coach.baseline import TutorialCoach
from coach.evaluate import BatchResult, Conversation, EvalTurn, score


def test_tutorial_returns_the_nearest_1000_character_chunk_and_scores_like_the_coach(fake_embedder):
    pay = "Pay. The median wage is $50,000 a year. " * 30
    text = pay + "Training. Apprenticeships last four years. " * 30
    coach = TutorialCoach({"g.txt": text}, fake_embedder)
    assert len(coach.chunks) == -(-len(text) // 1000)
    answer = coach.ask("Apprenticeships last four years")
    assert not answer.abstained and len(answer.text) <= 1000
    assert text[answer.sentences[0].char_start : answer.sentences[0].char_end] == answer.text
    conv = Conversation(
        id="c", kind="single", turns=[EvalTurn(q="Apprenticeships last four years", expect_any=["four years"])]
    )
    result = BatchResult(id="c", answers=[coach.ask(t.q) for t in conv.turns])
    report = score([conv], [result], {"g.txt": text})
    assert report.single_hit == 1.0 and report.citation_integrity == 1.0
