"""The Streamlit app, driven by AppTest with the real models."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def app_env(real_settings, real_coach, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COACH_CORPUS", str(real_settings.corpus_dir))
    monkeypatch.setenv("COACH_INDEX", str(real_settings.index_dir))
    monkeypatch.setenv("COACH_AUDIT_DB", str(tmp_path / "audit.sqlite3"))
    monkeypatch.delenv("COACH_STAFF_PASSWORD", raising=False)
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


def test_staff_page_locked_without_password(app_env):
    at = chat()
    at.switch_page("views/staff.py").run()
    assert "locked" in at.warning[0].value
    assert not at.dataframe


def test_staff_login_and_turn_with_citation(app_env, monkeypatch):
    monkeypatch.setenv("COACH_STAFF_PASSWORD", "s3cret-pass")
    at = ask(chat(), "Which databases should I learn?")
    at.switch_page("views/staff.py").run()
    at.text_input[0].set_value("wrong")
    at.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.error)
    at.text_input[0].set_value("s3cret-pass")
    at.button[0].click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert "Which databases should I learn?" in list(table["question"])
    assert any("Technical Skills" in e.label for e in at.expander)
