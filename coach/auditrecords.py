"""Typed records of the audit log: turns with their citations and verdict, staff logins, filters.

What :class:`coach.audit.AuditStore` reads and writes; every front end and
export sees these, never a database row.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

VerdictKind = Literal["correct", "wrong", "should-abstain", "should-answer"]
VERDICTS: tuple[str, ...] = ("correct", "wrong", "should-abstain", "should-answer")
LoginOutcome = Literal["ok", "failed", "throttled", "locked", "logout", "expired"]


class CitationRecord(BaseModel):
    marker: int
    passage_id: str
    source: str
    section: str
    char_start: int
    char_end: int
    passage_sha256: str
    quoted: list[str]
    """The sentences of the answer quoted from this passage."""


class VerdictRecord(BaseModel):
    id: int
    turn_id: int
    created_at: str
    reviewer: str
    verdict: VerdictKind
    sentence: str | None = None
    """The sentence of the guide that should have been quoted (wrong, should-answer)."""
    note: str = ""


class TurnRecord(BaseModel):
    id: int
    created_at: str
    conversation_id: str
    turn_number: int
    question: str
    query: str
    answer_text: str
    abstained: bool
    confidence: float
    latency_ms: float
    manifest_id: str
    feedback: int | None
    guide: str | None = None
    followup: bool | None = None
    """Read as a follow-up, with the conversation's topic (``Answer.followup``); None for turns
    logged before the audit kept it."""
    citations: list[CitationRecord] = []
    verdict: VerdictRecord | None = None

    @property
    def quoted(self) -> list[str]:
        """Every sentence the answer quoted, in marker order."""
        return [q for c in self.citations for q in c.quoted]


class LoginEvent(BaseModel):
    id: int
    created_at: str
    outcome: LoginOutcome
    session_key: str
    staff_name: str
    client: str


class TurnFilter(BaseModel):
    since: str | None = None
    until: str | None = None
    text: str | None = None
    abstained_only: bool = False
    section: str | None = None
    max_confidence: float | None = None
    thumbs_down_only: bool = False
    reviewed_only: bool = False
    unreviewed_only: bool = False
    limit: int | None = 1000
    """At most this many turns, newest first; None for every matching turn."""


class PurgeReport(BaseModel):
    conversations: int
    turns: int
    verdicts: int
    login_events: int
