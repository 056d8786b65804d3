"""Follow-up questions: decide whether a question leans on the conversation.

A follow-up ("and after 10 years?", "is it fast paced?", "who offers that
one?") is searched together with the question that set the topic, and the
passages the previous answer quoted stay in view. A question that brings its
own subject ("what are my odds in the H-1B lottery?") starts a new topic and
is not dragged back to the old one.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from coach import lexical

ANAPHORA = {
    "it", "its", "that", "those", "these", "they", "them", "their", "theirs", "there", "this",
    "he", "she", "him", "her", "his", "such", "one", "ones", "then", "same",
}  # fmt: skip
OPENERS_RE = re.compile(
    r"^\s*(and|but|so|also|then|ok|okay|what about|how about|and what about|what if|same for|"
    r"how long (?:does|would|will) (?:it|that)|why(?: is)? that)\b",
    re.I,
)
GENERIC = {
    "what", "whats", "how", "much", "many", "long", "does", "do", "is", "are", "can", "will",
    "would", "should", "could", "tell", "know", "like", "about", "mean", "means", "need", "good",
    "lot", "bad", "next", "after", "before", "level", "kind", "thing", "things", "work", "get",
    "make", "take", "go", "say", "too", "else", "actually", "really", "usually", "typically",
}  # fmt: skip
EXISTENTIAL_THERE_RE = re.compile(r"\b(?:are|is|was|were)\s+there\b|\bthere\s+(?:are|is|was|were)\b", re.I)


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


def _has_anaphora(question: str) -> bool:
    q = EXISTENTIAL_THERE_RE.sub(" ", question)
    return any(w in ANAPHORA for w in lexical.words(q))


def subject_words(question: str) -> list[str]:
    """Content words that could name a topic on their own."""
    return [w for w in lexical.words(question) if w not in lexical.STOPWORDS and w not in GENERIC]


def is_followup(question: str) -> bool:
    """Does this question need the conversation to be understood?"""
    if OPENERS_RE.match(question):
        return True
    subject = subject_words(question)
    if _has_anaphora(question) and len(subject) <= 4:
        return True
    return len(subject) <= 1


def resolve(question: str, history: list[Turn]) -> Resolution:
    """The query to search for ``question`` given the earlier turns (oldest first)."""
    if not history or not is_followup(question):
        return Resolution(query=question, followup=False)
    topic = next((t for t in reversed(history) if t.standalone), history[0])
    previous = history[-1]
    query = f"{topic.question} {question}"
    focus = [] if previous.abstained else previous.passage_ids
    return Resolution(query=query, followup=True, focus_passages=focus, already_quoted=previous.quoted)
