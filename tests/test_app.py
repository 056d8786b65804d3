"""The Streamlit app, driven by AppTest with the real models."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from coach import staffauth
from coach.audit import AuditStore
from coach.evaluate import Conversation
from coach.records import Answer, AnswerSentence, Citation
from coach.review import record_conversation
from coach.staffauth import hash_password
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def app_env(real_settings, real_coach, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COACH_CORPUS", str(real_settings.corpus_dir))
    monkeypatch.setenv("COACH_INDEX", str(real_settings.index_dir))
    monkeypatch.setenv("COACH_AUDIT_DB", str(tmp_path / "audit.sqlite3"))
    monkeypatch.delenv("COACH_STAFF_PASSWORD", raising=False)
    monkeypatch.delenv("COACH_STAFF_PASSWORD_HASH", raising=False)
    return tmp_path


def chat() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    return at


def ask(at: AppTest, q: str) -> AppTest:
    at.chat_input[0].set_value(q).run()
    return at


def all_markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_question_gets_a_cited_answer(app_env):
    at = chat()
    assert not at.exception
    assert len(at.button) >= 4  # starter questions
    ask(at, "Which databases should I learn?")
    assert not at.exception
    text = all_markdown(at)
    assert "MySQL, Microsoft SQL Server" in text.replace("\\", "") and "[1]" in text.replace("\\", "")
    assert any("Technical Skills" in e.label for e in at.expander)


def test_a_quoted_table_row_is_read_with_its_column_names(app_env):
    at = ask(chat(), "which level do I need to reach to make over 90k?")
    assert not at.exception
    captions = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "Level: " in captions and "US Median: $" in captions


def test_abstention_offers_sections(app_env):
    at = ask(chat(), "what's the weather in Paris tomorrow?")
    assert "does not cover" in at.info[0].value
    assert any(b.label.startswith("Tell me about") for b in at.button)


def test_followup_uses_the_conversation(app_env):
    at = ask(chat(), "what's the workplace culture like?")
    ask(at, "is it fast paced?")
    assert "The pace can be fast" in all_markdown(at).replace("\\", "")


def test_markup_in_a_question_is_shown_as_text(app_env):
    at = ask(chat(), "<script>alert('x')</script> **bold** [link](http://x)")
    assert not at.exception
    shown = at.chat_message[0].markdown[0].value
    assert "\\<script\\>" in shown and "\\*\\*bold\\*\\*" in shown


def test_a_link_in_a_markdown_guide_reads_as_a_link_not_as_its_syntax():
    from views.shared import safe_quote

    quote = "To learn more, give [this article](https://www.freecodecamp.org/news/remote-work/) a read."
    shown = safe_quote(quote)
    # The label is a link to its page; no bracket or address is shown as text.
    assert "[this article](https://www.freecodecamp.org/news/remote-work/)" in shown
    assert shown.startswith("To learn more, give [") and shown.endswith(" a read\\.")
    wiki = "[Carpentry](https://en.wikipedia.org/wiki/Carpentry_(trade))"
    assert safe_quote(f"See {wiki}.") == f"See {wiki}\\."
    # Anything that is not a web link stays literal text.
    assert safe_quote("[x](javascript:alert(1)) **b**") == "\\[x\\]\\(javascript\\:alert\\(1\\)\\) \\*\\*b\\*\\*"


def test_staff_page_locked_without_password(app_env):
    at = chat()
    at.switch_page("views/staff.py").run()
    assert "locked" in at.warning[0].value
    assert not at.dataframe


# -- staff page ---------------------------------------------------------------------------------------------------

PASSWORD = "s3cret-pass-for-tests"


def staff(app_env, monkeypatch, password: str = PASSWORD) -> AppTest:
    monkeypatch.setenv("COACH_STAFF_PASSWORD_HASH", hash_password(password))
    at = chat()
    at.switch_page("views/staff.py").run()
    return at


def login(at: AppTest, password: str = PASSWORD, name: str = "Ana") -> AppTest:
    at.text_input(key="login_name").set_value(name)
    at.text_input(key="login_password").set_value(password)
    at.button[0].click().run()
    return at


def record(app_env, real_coach, *questions: list[str]) -> list[int]:
    store = AuditStore(app_env / "audit.sqlite3")
    ids = []
    for qs in questions:
        ids += record_conversation(real_coach, store, Conversation(id="x", turns=[{"q": q} for q in qs]))[1]
    return ids


def pick(at: AppTest, turn_id: int) -> AppTest:
    at.selectbox(key="turn-pick").set_value(turn_id).run()
    return at


def save(at: AppTest, turn_id: int, verdict: str, search: str | None = None, note: str = "") -> AppTest:
    pick(at, turn_id)
    at.radio(key=f"verdict-{turn_id}").set_value(verdict).run()
    if search:
        at.text_input(key=f"search-{turn_id}").set_value(search).run()
        found = at.selectbox(key=f"found-{turn_id}")
        found.set_value(found.options[1]).run()
    if note:
        at.text_input(key=f"note-{turn_id}").set_value(note)
    at.button(key=f"save-{turn_id}").click().run()
    assert not at.exception, at.exception
    return at


def test_staff_login_and_turn_with_citation(app_env, real_coach, monkeypatch):
    record(app_env, real_coach, ["Which databases should I learn?"])
    at = staff(app_env, monkeypatch)
    login(at, "wrong")
    assert any("Wrong password" in e.value for e in at.error)
    login(at)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert "Which databases should I learn?" in list(table["question"])
    assert any("Technical Skills" in e.label and "verified" in e.label for e in at.expander)
    assert any("Read on its own" in c.value for c in at.caption)  # a first question has no topic to lean on
    logins = at.dataframe[1].value
    assert list(logins["outcome"])[:2] == ["ok", "failed"] and list(logins["name"])[0] == "Ana"


def test_staff_see_which_turns_were_read_as_follow_ups(app_env, real_coach, monkeypatch):
    ids = record(app_env, real_coach, ["How much do these techs make?", "and after 10 years?"])
    at = login(staff(app_env, monkeypatch))
    assert not at.exception, at.exception
    captions = lambda: [c.value for c in at.caption]  # noqa: E731
    pick(at, ids[1])
    assert any("Read as a follow-up" in c for c in captions())
    pick(at, ids[0])
    assert any("Read on its own" in c for c in captions()) and not any("follow-up" in c for c in captions())


def test_staff_records_each_kind_of_verdict_changes_one_exports_and_replays(app_env, real_coach, monkeypatch):
    db, cov, weather, pace = record(
        app_env, real_coach, ["Which databases should I learn?"], ["What does this job pay?"],
        ["what's the weather in Paris tomorrow?"], ["what's the workplace culture like?"],
    )  # fmt: skip
    store = AuditStore(app_env / "audit.sqlite3")
    assert store.turn(weather).abstained and not store.turn(db).abstained
    at = login(staff(app_env, monkeypatch))
    save(at, db, "correct")
    save(at, cov, "wrong", search="Entry-level", note="asked about pay in general")
    save(at, weather, "should-answer", search="MySQL")
    save(at, pace, "should-abstain")
    assert {k: store.turn(t).verdict.verdict for k, t in
            {"db": db, "cov": cov, "weather": weather, "pace": pace}.items()} == {
        "db": "correct", "cov": "wrong", "weather": "should-answer", "pace": "should-abstain"}  # fmt: skip
    assert "MySQL" in store.turn(weather).verdict.sentence and store.turn(cov).verdict.reviewer == "Ana"
    save(at, weather, "should-abstain")  # a "not covered" cannot be judged "should have said not covered"
    assert any("already said the guide does not cover it" in e.value for e in at.error)
    save(at, db, "should-abstain")  # change a verdict: the old one stays in the history
    assert [v.verdict for v in store.verdict_history(db)] == ["correct", "should-abstain"]
    assert any("changed 1×" in m.value for m in at.markdown)
    labels = {b.label for b in at.get("download_button")}
    assert {"Export CSV", "Export JSONL", "Regression set (eval JSONL)"} <= labels

    at.button(key="replay").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    # Same index, same answers: the replay changes nothing.
    assert metrics == {"🟢 better": "0", "🔴 worse": "0", "🟡 changed": "0", "⚪ unchanged": "4"}


def test_replay_shows_better_and_worse_side_by_side(app_env, real_coach, monkeypatch):
    store = AuditStore(app_env / "audit.sqlite3")
    right = next(u.text for p in real_coach.index.passages for u in p.units if "MySQL" in u.text)
    # Two turns answered by an older coach: one wrong (the index now answers it), one right (now "not covered").
    wrong_then = store.record_turn("c1", 1, fake_answer("Which databases should I learn?", "Be curious."), "old")
    right_then = store.record_turn("c2", 1, fake_answer("what's the weather in Paris tomorrow?", "Sunny."), "old")
    store.record_verdict(wrong_then, "wrong", "Ana", right)
    store.record_verdict(right_then, "correct", "Ana")
    at = login(staff(app_env, monkeypatch))
    at.button(key="replay").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["🟢 better"] == "1" and metrics["🔴 worse"] == "1"
    shown = {e.label.split(" · ")[0]: e for e in at.expander if "#" in e.label}
    assert set(shown) == {"🟢 better", "🔴 worse"}
    text = "\n".join(m.value for m in shown["🟢 better"].markdown).replace("\\", "")
    assert "At the verdict" in text and "Be curious" in text and "MySQL" in text


def fake_answer(question: str, sentence: str) -> Answer:
    return Answer(
        question=question, query=question, abstained=False, text=f"{sentence} [1]",
        sentences=[AnswerSentence(text=sentence, citation=1, char_start=0, char_end=len(sentence))],
        citations=[Citation(marker=1, passage_id="p", source="g.txt", title="G", section=["G"], text=sentence,
                            char_start=0, char_end=len(sentence), score=1.0)],
    )  # fmt: skip


def test_twenty_wrong_passwords_lock_the_form_until_the_window_ends(app_env, monkeypatch):
    clock = [1_900_000_000.0]
    monkeypatch.setattr(staffauth, "clock", lambda: clock[0])
    at = staff(app_env, monkeypatch)
    for k in range(20):
        login(at, "not the password")
        if k < 8:
            clock[0] += 61  # past the growing delay: each of these wrong passwords is checked and counted
    assert any("Too many wrong passwords from this browser: the login is locked" in e.value for e in at.error)
    login(at)  # the right password, refused while the window lasts
    assert any("locked" in e.value for e in at.error) and not at.dataframe
    clock[0] += 900
    login(at)
    assert not at.exception and at.dataframe
    outcomes = [e.outcome for e in AuditStore(app_env / "audit.sqlite3").login_events()]
    assert len(outcomes) == 22 and outcomes.count("failed") == 8 and outcomes[0] == "ok"


def test_a_wrong_password_waits_a_growing_delay(app_env, monkeypatch):
    clock = [1_900_000_000.0]
    monkeypatch.setattr(staffauth, "clock", lambda: clock[0])
    at = staff(app_env, monkeypatch)
    for _ in range(3):
        login(at, "not the password")
    assert any("wait 2 seconds" in e.value for e in at.error)
    login(at)  # too soon, even with the right password
    assert any("wait" in e.value for e in at.error)
    clock[0] += 3
    login(at)
    assert at.dataframe


def test_a_staff_session_expires_after_inactivity(app_env, monkeypatch):
    at = login(staff(app_env, monkeypatch))
    assert at.dataframe
    at.session_state["staff_seen"] = time.time() - 31 * 60
    at.run()
    assert any("ended after 30 minutes without activity" in i.value for i in at.info)
    assert not at.dataframe and at.text_input(key="login_password")
    outcomes = [e.outcome for e in AuditStore(app_env / "audit.sqlite3").login_events()]
    assert outcomes[:2] == ["expired", "ok"]
