"""Staff page: every question, its answer and the passages it quoted. Login required."""

from __future__ import annotations

import hmac
import os
from datetime import date, timedelta

import streamlit as st

from coach.audit import TurnFilter, to_csv, to_jsonl
from coach.errors import CoachError
from views.shared import audit_store, coach, safe, settings


def configured_password() -> str | None:
    if os.environ.get("COACH_STAFF_PASSWORD"):
        return os.environ["COACH_STAFF_PASSWORD"]
    try:
        return st.secrets.get("staff_password") or None
    except Exception:  # no secrets file at all
        return None


st.title("Staff: audit")
password = configured_password()
if not password:
    st.warning(
        "The staff page is locked because no staff password is set. "
        "Set COACH_STAFF_PASSWORD in the environment (or staff_password in .streamlit/secrets.toml) and restart."
    )
    st.stop()
if not st.session_state.get("staff_ok"):
    with st.form("login"):
        typed = st.text_input("Staff password", type="password")
        if st.form_submit_button("Log in"):
            if hmac.compare_digest(typed.encode(), password.encode()):
                st.session_state.staff_ok = True
                st.rerun()
            st.error("Wrong password.")
    st.stop()

if st.sidebar.button("Log out"):
    st.session_state.staff_ok = False
    st.rerun()

store = audit_store(str(settings().audit_db))

st.subheader("Turns")
c1, c2 = st.columns(2)
start = c1.date_input("From", value=date.today() - timedelta(days=30))
end = c2.date_input("To", value=date.today())
text = st.text_input("Search questions and answers")
c3, c4, c5 = st.columns(3)
abstained_only = c3.checkbox("Not answered only")
low_conf = c4.checkbox("Low confidence (< 0.6)")
thumbs_down = c5.checkbox("Thumbs down only")
section = st.text_input("Cited section contains")
flt = TurnFilter(
    since=start.isoformat(),
    until=(end + timedelta(days=1)).isoformat(),
    text=text or None,
    abstained_only=abstained_only,
    max_confidence=0.6 if low_conf else None,
    thumbs_down_only=thumbs_down,
    section=section or None,
)
turns = store.turns(flt)
rows = [
    {
        "id": t.id,
        "time": t.created_at,
        "conversation": t.conversation_id[:8],
        "turn": t.turn_number,
        "question": t.question,
        "answered": not t.abstained,
        "confidence": t.confidence,
        "latency ms": t.latency_ms,
        "feedback": {1: "👍", 0: "👎"}.get(t.feedback, ""),
        "sections": "; ".join(c.section.split(" > ")[-1] for c in t.citations),
    }
    for t in turns
]
st.dataframe(rows, hide_index=True, use_container_width=True)
d1, d2 = st.columns(2)
d1.download_button("Export CSV", to_csv(turns), "career-coach-audit.csv", "text/csv")
d2.download_button("Export JSONL", to_jsonl(turns), "career-coach-audit.jsonl", "application/json")

st.subheader("One turn in detail")
if turns:
    chosen = st.selectbox("Turn", turns, format_func=lambda t: f"#{t.id} · {t.question[:80]}")
    st.markdown(f"**Question:** {safe(chosen.question)}")
    st.markdown(f"**Searched as:** {safe(chosen.query)}")
    st.markdown(f"**Answer:** {safe(chosen.answer_text)}")
    st.caption(f"confidence {chosen.confidence:.2f} · {chosen.latency_ms:.0f} ms · index {chosen.manifest_id}")
    for c in chosen.citations:
        with st.expander(f"[{c.marker}] {c.section}", expanded=True):
            st.caption(f"{safe(c.source)} [{c.char_start}–{c.char_end}] · passage sha256 {c.passage_sha256[:16]}…")
            for q in c.quoted:
                st.markdown(f":orange-background[**{safe(q)}**]")
else:
    st.info("No turns match these filters yet.")

st.subheader("Coverage")
try:
    engine = coach()
except CoachError as exc:
    st.error(str(exc))
    st.stop()
counts = store.citation_counts()
by_id = {p.id: p for p in engine.index.passages}
top = sorted(counts.items(), key=lambda kv: -kv[1])[:10]
if top:
    st.caption("Most-cited passages")
    st.bar_chart(
        {" › ".join(by_id[pid].section[1:])[:60] if pid in by_id else pid: n for pid, n in top}, horizontal=True
    )
cited_sections = {" › ".join(by_id[pid].section[1:]) for pid in counts if pid in by_id}
never = sorted({" › ".join(p.section[1:]) for p in engine.index.passages if p.section[1:]} - cited_sections)
with st.expander(f"Sections never cited ({len(never)})"):
    st.write("\n".join(f"- {safe(s)}" for s in never) or "Every section has been cited.")
gaps = store.turns(TurnFilter(abstained_only=True, limit=200))
st.caption("Questions the guide could not answer (coverage gaps)")
st.dataframe([{"time": t.created_at, "question": t.question} for t in gaps], hide_index=True, use_container_width=True)
