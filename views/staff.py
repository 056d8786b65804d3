"""Staff page: every question, its answer, the passages it quoted, and the staff's verdicts. Login required.

The rules live in ``coach/`` (staffauth: login and expiry; review: verdicts,
regression set, replay; verify: citation checks; export: files); this page
only lays them out.
"""

from __future__ import annotations

import os
import uuid
from datetime import date, timedelta

import streamlit as st

from coach import staffauth
from coach.audit import VERDICTS, TurnFilter, TurnRecord
from coach.errors import CoachError
from coach.export import csv_lines, jsonl_lines
from coach.review import VerdictError, check_verdict, export_eval_lines, replay, search_units
from coach.verify import LABELS, Verifier
from views.shared import audit_store, build_cache, client_address, coach, safe, settings, staff_secrets

VERDICT_LABELS = {
    "correct": "Correct",
    "wrong": "Wrong",
    "should-abstain": "Should have said “not covered”",
    "should-answer": "Should have answered",
}
CHANGE_ICONS = {"better": "🟢 better", "worse": "🔴 worse", "changed": "🟡 changed", "unchanged": "⚪ unchanged"}

state = st.session_state
st.title("Staff: audit")
cfg = settings()
store = audit_store(str(cfg.audit_db))
try:
    secret = staffauth.staff_secret(os.environ, staff_secrets())
    policy = staffauth.LoginPolicy.from_env()
except CoachError as exc:  # a malformed hash or setting: say so rather than refuse every password
    st.error(str(exc))
    st.stop()
if secret is None:
    st.warning(
        "The staff page is locked because no staff password is set. Set COACH_STAFF_PASSWORD_HASH "
        "(make one with: python -m coach hash-password), or COACH_STAFF_PASSWORD, and restart."
    )
    st.stop()

guard = staffauth.LoginGuard(store, policy)
state.setdefault("staff_session", uuid.uuid4().hex)
if state.get("staff_ok") and guard.expired(state.get("staff_seen")):
    store.record_login("expired", state.staff_session, state.get("staff_name", ""), client_address())
    state.staff_ok = False
    minutes = round(guard.policy.idle_timeout_s / 60)
    st.info(f"Your staff session ended after {minutes} minutes without activity. Log in again.")
if not state.get("staff_ok"):
    with st.form("login"):
        name = st.text_input("Your name", key="login_name", help="Logins and verdicts are recorded with it.")
        typed = st.text_input("Staff password", type="password", key="login_password")
        if st.form_submit_button("Log in"):
            if not name.strip():
                st.error("Enter your name: logins and verdicts are recorded with it.")
            else:
                result = guard.attempt(state.staff_session, typed, secret, name.strip(), client_address())
                if result.ok:
                    state.staff_ok, state.staff_name, state.staff_seen = True, name.strip(), guard.clock()
                    st.rerun()
                st.error(result.message)
    st.stop()
state.staff_seen = guard.clock()

st.sidebar.caption(f"Logged in as {safe(state.staff_name)}")
if st.sidebar.button("Log out"):
    store.record_login("logout", state.staff_session, state.staff_name, client_address())
    state.staff_ok = False
    st.rerun()

try:
    engine = coach()
except CoachError as exc:
    st.error(str(exc))
    st.stop()
passages = engine.index.passages
by_id = {p.id: p for p in passages}
verifier = Verifier(cfg.index_dir, cfg.corpus_dir, build_cache())
turns_tab, replay_tab, logins_tab, coverage_tab = st.tabs(["Turns", "Replay", "Logins", "Coverage"])


@st.cache_data(show_spinner=False, max_entries=4)
def _excluded(corpus: str, manifest_id: str) -> dict[str, list[dict]]:
    """Sections each guide keeps out of answers, parsed once per index build."""
    from pathlib import Path

    from coach.parse import excluded_sections

    try:
        return {src: [e.model_dump() for e in items] for src, items in excluded_sections(Path(corpus)).items()}
    except CoachError:
        return {}


def verdict_form(turn: TurnRecord) -> None:
    """Record or change the verdict on one turn; the rules (and their error sentences) are coach.review's."""
    history = store.verdict_history(turn.id)
    if history:
        v = history[-1]
        st.markdown(
            f"**Verdict:** {VERDICT_LABELS[v.verdict]} · by {safe(v.reviewer)} · {v.created_at[:16]}"
            + (f" · changed {len(history) - 1}×" if len(history) > 1 else "")
        )
        if v.sentence:
            st.markdown(f"**Right sentence:** {safe(v.sentence)}")
        if v.note:
            st.caption(f"Note: {safe(v.note)}")
    current = VERDICTS.index(history[-1].verdict) if history else 0
    choice = st.radio(
        "Verdict", VERDICTS, index=current, format_func=VERDICT_LABELS.get, horizontal=True, key=f"verdict-{turn.id}"
    )
    sentence = None
    if choice in ("wrong", "should-answer"):
        cited = [u.text for c in turn.citations if c.passage_id in by_id for u in by_id[c.passage_id].units]
        cited = [u for u in dict.fromkeys(cited) if u not in turn.quoted]
        picked = st.selectbox(
            "Right sentence from the cited passages",
            ["", *cited],
            key=f"cited-{turn.id}",
            format_func=lambda u: u or "—",
        )
        query = st.text_input("…or search the guide for it", key=f"search-{turn.id}")
        found = [u.text for _, u in search_units(passages, query)] if query.strip() else []
        if query.strip() and not found:
            st.caption("No sentence of the guide contains all those words.")
        chosen = st.selectbox("Matches", ["", *found], key=f"found-{turn.id}", format_func=lambda u: u or "—")
        sentence = chosen or picked or None
    note = st.text_input("Note (optional)", key=f"note-{turn.id}", max_chars=500)
    if st.button("Save verdict", key=f"save-{turn.id}", type="primary"):
        try:
            kind, right = check_verdict(turn, choice, sentence, passages)
        except VerdictError as exc:
            st.error(str(exc))
            return
        store.record_verdict(turn.id, kind, state.staff_name, right, note.strip())
        st.toast(
            f"Saved: {VERDICT_LABELS[kind]}." + (" The verdict before it stays in the history." if history else "")
        )
        st.rerun()
    if len(history) > 1:
        with st.expander(f"Verdict history ({len(history)})"):
            st.dataframe(
                [{"time": v.created_at, "by": v.reviewer, "verdict": v.verdict, "sentence": v.sentence or "",
                  "note": v.note} for v in history],
                hide_index=True,
            )  # fmt: skip


def citation_checks(turn: TurnRecord) -> None:
    check = {c.marker: c for c in verifier.check(turn).citations}
    for c in turn.citations:
        v = check[c.marker]
        icon = {"verified": "✅", "edited": "⚠️", "gone": "❔", "mismatch": "❌"}[v.status]
        with st.expander(f"[{c.marker}] {safe(c.section)} · {icon} {LABELS[v.status]}", expanded=True):
            st.caption(f"{safe(c.source)} [{c.char_start}–{c.char_end}] · {safe(v.detail)}")
            for q in c.quoted:
                st.markdown(f":orange-background[**{safe(q)}**]")


with turns_tab:
    c1, c2 = st.columns(2)
    start = c1.date_input("From", value=date.today() - timedelta(days=30))
    end = c2.date_input("To", value=date.today())
    text = st.text_input("Search questions and answers")
    c3, c4, c5, c6 = st.columns(4)
    abstained_only = c3.checkbox("Not answered only")
    low_conf = c4.checkbox("Low confidence (< 0.6)")
    thumbs_down = c5.checkbox("Thumbs down only")
    reviewed = c6.selectbox("Verdict", ["any", "not reviewed", "reviewed"], key="reviewed-filter")
    section = st.text_input("Cited section contains")
    flt = TurnFilter(
        since=start.isoformat(),
        until=(end + timedelta(days=1)).isoformat(),
        text=text or None,
        abstained_only=abstained_only,
        max_confidence=0.6 if low_conf else None,
        thumbs_down_only=thumbs_down,
        section=section or None,
        reviewed_only=reviewed == "reviewed",
        unreviewed_only=reviewed == "not reviewed",
    )
    turns = store.turns(flt)
    if len(turns) == flt.limit:
        st.caption(f"Showing the newest {flt.limit:,} turns; the exports hold every matching turn.")
    st.dataframe(
        [
            {"id": t.id, "time": t.created_at, "conversation": t.conversation_id[:8], "turn": t.turn_number,
             "question": t.question, "answered": not t.abstained, "confidence": t.confidence,
             "verdict": t.verdict.verdict if t.verdict else "", "feedback": {1: "👍", 0: "👎"}.get(t.feedback, ""),
             "sections": "; ".join(c.section.split(" > ")[-1] for c in t.citations)}
            for t in turns
        ],
        hide_index=True,
        use_container_width=True,
    )  # fmt: skip
    every = flt.model_copy(update={"limit": None})
    d1, d2, d3 = st.columns(3)
    d1.download_button(
        "Export CSV", lambda: "".join(csv_lines(store.iter_turns(every))), "career-coach-audit.csv", "text/csv",
        on_click="ignore", key="export-csv",
    )  # fmt: skip
    d2.download_button(
        "Export JSONL", lambda: "".join(jsonl_lines(store.iter_turns(every))), "career-coach-audit.jsonl",
        "application/json", on_click="ignore", key="export-jsonl",
    )  # fmt: skip
    if store.verdict_counts():
        d3.download_button(
            "Regression set (eval JSONL)", lambda: "".join(export_eval_lines(store)), "reviewed.jsonl",
            "application/json", on_click="ignore", key="export-eval",
        )  # fmt: skip
    if st.button("Verify the citations of these turns", key="verify-all"):
        checks = [verifier.check(t) for t in turns]
        counts = {s: sum(c.status == s for c in checks) for s in LABELS}
        st.write(", ".join(f"{n} {LABELS[s]}" for s, n in counts.items()))
        bad = [c for c in checks if c.status != "verified"]
        if bad:
            st.dataframe(
                [{"turn": c.turn_id, "status": LABELS[c.status], "detail": c.citations[0].detail if c.citations else ""}
                 for c in bad], hide_index=True,
            )  # fmt: skip

    st.subheader("One turn in detail")
    if turns:
        labels = {t.id: f"#{t.id} · {t.question[:80]}" for t in turns}
        picked = st.selectbox("Turn", labels, format_func=labels.get, key="turn-pick")
        chosen = next((t for t in turns if t.id == picked), turns[0])
        st.markdown(f"**Question:** {safe(chosen.question)}")
        st.markdown(f"**Searched as:** {safe(chosen.query)}")
        if chosen.followup is not None:
            st.caption("Read as a follow-up, with the conversation's topic." if chosen.followup else "Read on its own.")
        st.markdown(f"**Answer:** {safe(chosen.answer_text)}")
        st.caption(f"confidence {chosen.confidence:.2f} · {chosen.latency_ms:.0f} ms · index {chosen.manifest_id}")
        citation_checks(chosen)
        verdict_form(chosen)
    else:
        st.info("No turns match these filters yet.")


with replay_tab:
    st.caption(
        "Re-asks every reviewed question (with the turns before it) against the current index, and compares the "
        "answer with the one the verdict judged: better or worse by the verdict, or just changed."
    )
    if st.button("Replay reviewed turns", key="replay"):
        bar = st.progress(0.0, text="Replaying")
        state.replay_rows = replay(store, engine, lambda d, n: bar.progress(d / max(n, 1), text=f"Replaying ({d}/{n})"))
        bar.empty()
    rows = state.get("replay_rows")
    if rows is None:
        st.info("Nothing replayed yet." if store.verdict_counts() else "No verdicts yet: review some turns first.")
    else:
        counts = {k: sum(r.change == k for r in rows) for k in CHANGE_ICONS}
        cols = st.columns(4)
        for col, (k, label) in zip(cols, CHANGE_ICONS.items(), strict=True):
            col.metric(label, counts[k])
        for r in rows:
            if r.change == "unchanged":
                continue
            with st.expander(f"{CHANGE_ICONS[r.change]} · #{r.turn_id} · {safe(r.question[:80])}", expanded=True):
                st.caption(f"Verdict: {VERDICT_LABELS[r.verdict.verdict]} by {safe(r.verdict.reviewer)}")
                before, after = st.columns(2)
                before.markdown("**At the verdict**")
                before.markdown(safe(r.before))
                after.markdown("**Now**")
                after.markdown(safe(r.after))

with logins_tab:
    events = store.login_events(200)
    failed = sum(e.outcome in ("failed", "throttled", "locked") for e in events)
    st.caption(f"The latest {len(events)} staff login events; {failed} refused.")
    st.dataframe(
        [{"time": e.created_at, "outcome": e.outcome, "name": e.staff_name, "client": e.client,
          "session": e.session_key[:8]} for e in events],
        hide_index=True, use_container_width=True,
    )  # fmt: skip

with coverage_tab:
    counts = store.citation_counts()
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:10]
    if top:
        st.caption("Most-cited passages")
        st.bar_chart(
            {" › ".join(by_id[pid].section[1:])[:60] if pid in by_id else pid: n for pid, n in top}, horizontal=True
        )
    cited_sections = {" › ".join(by_id[pid].section[1:]) for pid in counts if pid in by_id}
    never = sorted({" › ".join(p.section[1:]) for p in passages if p.section[1:]} - cited_sections)
    with st.expander(f"Sections never cited ({len(never)})"):
        st.write("\n".join(f"- {safe(s)}" for s in never) or "Every section has been cited.")
    excluded = _excluded(str(settings().corpus_dir), engine.index.manifest.id)
    total = sum(len(v) for v in excluded.values())
    with st.expander(f"Kept out of answers: site clutter and staff exclusions ({total})"):
        st.caption(
            'Staff exclude a section for one guide in corpus/coach.toml: [guides."file.txt"] exclude = ["Section"]'
        )
        st.dataframe(
            [{"guide": src, "section": " › ".join(e["heading_path"]), "why": e["reason"], "units": e["units"]}
             for src, items in excluded.items() for e in items],
            hide_index=True, use_container_width=True,
        )  # fmt: skip
    gaps = store.turns(TurnFilter(abstained_only=True, limit=200))
    st.caption("Questions the guide could not answer (coverage gaps)")
    st.dataframe(
        [{"time": t.created_at, "question": t.question} for t in gaps], hide_index=True, use_container_width=True
    )
