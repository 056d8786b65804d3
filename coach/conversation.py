"""Follow-up questions: decide whether a question leans on the conversation.

A follow-up ("and after 10 years?", "is it fast paced?", "who offers that
one?") is searched together with the question that set the topic, and the
passages the previous answer quoted stay in view. Whether a question is one is
decided from the question: it opens by leaning back ("and ...", "what about
..."), or points back ("is it fast paced?", "after that?"), or it has no
subject of its own and the guide matches it better read with the topic than
alone. A question that brings its own subject and points nowhere ("What is
HIPAA?", a starter question clicked after another topic) starts a new topic.
Either way the answer model also sees what the question finds on its own
(``dense_alone`` in ``coach/features.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel

from coach import lexical

OPENERS_RE = re.compile(
    r"^\s*(and|but|so|also|then|ok|okay|what about|how about|and what about|what if|same for|"
    r"how long (?:does|would|will) (?:it|that)|why(?: is)? that)\b",
    re.I,
)
BACK_RE = re.compile(
    r"\b(it|its|it's|that|those|they|them|their|theirs|there|these|this|he|she|his|her|one|ones|same|such|"
    r"then|above|below|before|after|next|previous|former|latter|else|other|another|more)\b",
    re.I,
)
GUIDE_SELF_RE = re.compile(
    r"\b(?:this|the)\s+(?:job|career|role|field|occupation|profession|position|work|line of work|guide)\b"
    r"|\bdo you think that\b|\bso that\b",
    re.I,
)
GENERIC = {
    "what", "whats", "how", "much", "many", "long", "does", "do", "is", "are", "can", "will",
    "would", "should", "could", "tell", "know", "like", "about", "mean", "means", "need", "good",
    "lot", "bad", "next", "after", "before", "level", "kind", "thing", "things", "work", "get",
    "make", "take", "go", "say", "too", "else", "actually", "really", "usually", "typically",
}  # fmt: skip


class Turn(BaseModel):
    """What a later question may lean on: an earlier question and what it quoted."""

    question: str
    query: str
    standalone: bool
    passage_ids: list[str] = []
    quoted: list[tuple[str, int]] = []
    """(source, char_start) of each sentence the answer quoted."""
    abstained: bool = False


class Resolution(BaseModel):
    query: str
    """The text searched: the question, or the topic question plus the follow-up."""
    followup: bool
    focus_passages: list[str] = []
    """Passages the previous answer quoted (kept in view for a follow-up)."""
    already_quoted: list[tuple[str, int]] = []
    """Sentences the previous answer quoted: a follow-up asks for something new."""


def _subject_matches(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of each content word of ``text`` that could name a topic on its own."""
    found = ((lexical.words(m.group())[0], m.start(), m.end()) for m in lexical.TOKEN_RE.finditer(text))
    return [(w, a, b) for w, a, b in found if w not in lexical.STOPWORDS and w not in GENERIC]


def subject_words(question: str) -> list[str]:
    """Content words that could name a topic on their own."""
    return [w for w, _, _ in _subject_matches(question)]


def subject_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of ``subject_words`` in ``text`` (every occurrence)."""
    return [(a, b) for _, a, b in _subject_matches(text)]


def continues(question: str) -> bool:
    """Does the question open by leaning on what came before ("and ...", "what about ...")?"""
    return bool(OPENERS_RE.match(question))


def refers_back(question: str) -> bool:
    """Does the question point at something said before ("is it fast paced?", "after that?")?

    "this job", "this career" and the like name the guide's own occupation, not
    an earlier turn, so a starter question clicked mid-conversation stands alone.
    """
    return bool(BACK_RE.search(GUIDE_SELF_RE.sub(" ", question)))


def elaborates(question: str, topic: str) -> bool:
    """Is every subject word of the question already in the topic question?

    "what kind of content?" after "what does a content marketing director
    do?" asks more about the same thing; "What is HIPAA?" after a question
    about pay brings a subject of its own.
    """
    words = {lexical.stem(w) for w in subject_words(question)}
    return bool(words) and words <= {lexical.stem(w) for w in lexical.words(topic)}


def is_followup(question: str, better_with_topic: Callable[[], bool], topic: str | None = None) -> bool:
    """Does the question lean on the conversation?

    It opens by leaning back, points back ("that job" is the one just talked
    about; "this job" is the guide's), only elaborates on the ``topic``
    question, or brings no subject of its own ("how long does it take?") and
    the guide matches it better read with the topic (``better_with_topic``,
    measured by the caller, which has the embedder, and only asked when the
    question itself does not decide). A question with a subject of its own and
    no pointer ("What is HIPAA?") starts a new topic whatever the guide
    matches best.
    """
    if continues(question) or refers_back(question) or (topic is not None and elaborates(question, topic)):
        return True
    return not subject_words(question) and better_with_topic()


FOLLOWUP_EVIDENCE = ["opens", "points_back", "elaborates", "no_subject", "topic_gain"]
"""What a later question shows about leaning on the conversation (``followup_evidence``)."""


def followup_evidence(question: str, topic: str, topic_gain: float) -> dict[str, float]:
    """The signals of ``is_followup`` as numbers (``FOLLOWUP_EVIDENCE``), kept for offline replays.

    ``topic_gain`` is how much closer the guide's best passage comes with the
    topic question than for the question alone (dense cosine, from the caller).
    """
    values = [continues(question), refers_back(question), elaborates(question, topic), not subject_words(question)]
    return dict(zip(FOLLOWUP_EVIDENCE, [*map(float, values), topic_gain], strict=True))


def topic_of(history: list[Turn]) -> Turn:
    """The turn that set the current topic: the latest question that stood on its own."""
    return next((t for t in reversed(history) if t.standalone), history[0])


def contextual_query(question: str, history: list[Turn]) -> str:
    """The question read with the topic it continues: the topic question as searched, then the follow-up."""
    return f"{topic_of(history).query} {question}"


def resolve(question: str, history: list[Turn], followup: bool) -> Resolution:
    """The query to search for ``question``, once the caller has weighed whether it is a follow-up.

    The evidence (does the question alone find the guide as well as it does
    with the topic? does it open with "and ..."?) is gathered by the caller,
    which has the embedder; see ``Coach.analyze``.
    """
    if not history or not followup:
        return Resolution(query=question, followup=False)
    previous = history[-1]
    focus = [] if previous.abstained else previous.passage_ids
    return Resolution(
        query=contextual_query(question, history),
        followup=True,
        focus_passages=focus,
        already_quoted=previous.quoted,
    )
