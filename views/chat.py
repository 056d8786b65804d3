"""Chat page: job seekers ask, the coach quotes the guide with citations."""

from __future__ import annotations

import uuid

import streamlit as st

from coach.answer import history_turn
from coach.errors import CoachError
from coach.retrieve import conversation_guide
from views.shared import audit_store, citation_view, coach, safe, safe_quote, settings

STARTERS = [
    "What does this job pay?",
    "How do I get started in this career?",
    "What skills do I need?",
    "Can I work remotely?",
]

state = st.session_state
state.setdefault("conversation_id", uuid.uuid4().hex)
state.setdefault("messages", [])
state.setdefault("pending", None)
state.setdefault("guide", None)

st.title("Career Coach")
st.caption("Answers are quoted word for word from the career guide, with a citation for every sentence.")

with st.sidebar:
    if st.button("New conversation", icon="🆕"):
        state.conversation_id = uuid.uuid4().hex
        state.messages = []
        st.rerun()

try:
    engine = coach()
except CoachError as exc:
    st.error(str(exc))
    st.stop()
store = audit_store(str(settings().audit_db))
guides = {g.source: g.title for g in engine.index.manifest.guides}


def new_conversation() -> None:
    state.conversation_id = uuid.uuid4().hex
    state.messages = []


if len(guides) > 1:
    # Several careers: the job seeker may pick one; otherwise a question that
    # names a career is answered from its guide.
    if state.guide not in guides:
        state.guide = None
    with st.sidebar:
        st.selectbox(
            "Career guide",
            [None, *sorted(guides, key=lambda s: guides[s].lower())],
            format_func=lambda s: "Any guide (name the career in your question)" if s is None else guides[s],
            key="guide",
            on_change=new_conversation,
            help="Answers come only from the chosen guide. Changing it starts a new conversation.",
        )
# The chosen guide's texts are read ahead, so its first answers come as fast as the later ones.
engine.read_ahead(state.guide)


def ask(question: str) -> None:
    history = [history_turn(m["answer"]) for m in state.messages]
    scope = None
    if len(guides) > 1:
        previous = state.messages[-1]["answer"].guide if state.messages else None
        scope = conversation_guide(engine.index, question, state.guide, previous)
    answer = engine.ask(question, history, guide=scope)
    turn_id = None
    if answer.query:  # an empty question is not a turn
        turn_id = store.record_turn(state.conversation_id, len(state.messages) + 1, answer, engine.index.manifest.id)
        state.messages.append({"answer": answer, "turn_id": turn_id})
    else:
        st.toast(answer.text)


def render(message: dict, n: int) -> None:
    answer = message["answer"]
    with st.chat_message("user"):
        st.markdown(safe(answer.question))
    with st.chat_message("assistant"):
        if answer.abstained:
            st.info(safe(answer.text))
            if answer.suggestions:
                st.caption("Ask about a section the guide does cover:")
                for k, section in enumerate(answer.suggestions):
                    if st.button(f"Tell me about {section}", key=f"sugg-{n}-{k}"):
                        state.pending = f"Tell me about {section}"
                        st.rerun()
        else:
            st.markdown(" ".join(f"{safe_quote(s.text)} **[{s.citation}]**" for s in answer.sentences))
            for s in answer.sentences:
                if row := s.labelled_row():  # the quote stays verbatim above; the row is read with its columns here
                    st.caption(safe(row))
            if len(guides) > 1 and answer.guide and not state.guide:
                st.caption(f"From the guide: {safe(guides.get(answer.guide, answer.guide))}")
            for c in answer.citations:
                where = " › ".join(c.section[1:]) or c.title
                label = (
                    f"[{c.marker}] {c.title} › {where}"
                    if len(guides) > 1 and c.section[1:]
                    else f"[{c.marker}] {where}"
                )
                with st.expander(label):
                    citation_view(answer, c.marker)
        score = st.feedback("thumbs", key=f"fb-{message['turn_id']}")
        if score is not None and message.get("feedback") != score:
            message["feedback"] = score
            store.set_feedback(message["turn_id"], int(score))


for n, message in enumerate(state.messages):
    render(message, n)

if not state.messages:
    st.write("Try one of these:")
    cols = st.columns(2)
    for k, q in enumerate(STARTERS):
        if cols[k % 2].button(q, key=f"starter-{k}", use_container_width=True):
            state.pending = q
            st.rerun()

typed = st.chat_input("Ask about the career guide")
question = typed or state.pending
if question:
    state.pending = None
    with st.spinner("Looking it up in the guide…"):
        ask(question)
    st.rerun()
