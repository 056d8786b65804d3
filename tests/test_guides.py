"""Site clutter out, staff exclusions, and many guides at once (scope, picker, CLI, batch)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from coach.answer import Coach
from coach.chunk import chunk_guide, unit_context
from coach.cli import build_parser
from coach.clutter import load_settings, shared_lines
from coach.conversation import subject_words
from coach.corpus import scan_corpus
from coach.errors import CoachError
from coach.evaluate import Conversation, _norm, load_sets, read_conversations, run_conversation
from coach.features import unknown_words
from coach.index import build_index, load_index
from coach.model import load_model
from coach.parse import excluded_sections, parse_corpus, parse_guide
from coach.retrieve import (
    Candidate,
    career_initials,
    check_guide,
    conversation_guide,
    expand_initials,
    guide_vocabulary,
    missing_career,
    named_guide,
    retrieve,
)
from coach.settings import Settings
from tests.conftest import FIXTURES, ROOT, SEED

WIND = "wind-turbine-technician.txt"
DENTAL = "dental-hygienist.md"


def kept_units(guide) -> list[str]:  # noqa: ANN001
    return [_norm(u.plain or u.text) for s in guide.sections for u in s.units]


# -- clutter ----------------------------------------------------------------------------


@pytest.mark.parametrize(("sets_file", "least"), [("sets.json", 500), ("holdout/sets.json", 250)])
def test_every_labelled_answer_stays_quotable(sets_file, least):
    """Clutter removal never takes away what a labelled question expects to be quoted
    (the training sets and the held-out guides alike)."""
    sets, missing = load_sets(ROOT / "eval" / sets_file)
    if missing:
        pytest.skip(f"labelled sets not found: {missing}")
    checked = 0
    for gs in sets:
        guide = parse_guide(gs.guide.read_bytes().decode("utf-8-sig"), gs.guide.name)
        units = kept_units(guide)
        for path in gs.questions:
            for _, conv in read_conversations(path):
                for turn in conv.turns:
                    # A turn is right when the answer holds any of its strings: one must stay quotable.
                    if turn.expect_any:
                        checked += 1
                        quotable = [e for e in turn.expect_any if any(_norm(e) in u for u in units)]
                        assert quotable, (gs.name, conv.id, turn.expect_any)
    assert checked > least


def test_no_unit_of_the_default_guide_comes_from_its_clutter():
    guide = parse_guide(SEED.read_text(encoding="utf-8"), SEED.name)
    units = " | ".join(kept_units(guide))
    for clutter in [
        "himalayas plus",
        "no credit card required",
        "$9 / month",
        "sign up now",
        "upgrade to unlock",
        "get started for free",
        "ace your application with our purpose-built resources",
        "proven layouts and keywords hiring managers scan for",
        "our ai career coach",
    ]:
        assert clutter not in units, clutter
    paths = {" > ".join(s.heading_path[1:]) for s in guide.sections}
    assert not any("Himalayas" in p or "credit card" in p or "View examples" in p for p in paths)
    # Real content of the page's last sections stays.
    assert (
        "Frequently Asked Questions > Can Health Information Systems Technicians work remotely, or is this primarily an on-site role?"
        in paths
    )
    assert any("related careers" in p.lower() for p in paths)  # related occupations are content
    reasons = {e.reason for e in guide.excluded}
    assert {"link card", "marketing"} <= {r.split(", ")[0] for r in reasons}


def test_chunks_and_suggestions_never_hold_clutter():
    guide = parse_guide(SEED.read_text(encoding="utf-8"), SEED.name)
    for p in chunk_guide(guide):
        assert "Himalayas" not in p.text and "credit card" not in p.text.lower()
        assert not any("credit card" in h.lower() for h in p.section)


def test_a_sign_up_box_under_the_last_answer_goes_but_the_answer_stays():
    text = (ROOT / "eval" / "guides" / "ux-designer.txt").read_text(encoding="utf-8")
    guide = parse_guide(text, "ux-designer.txt")
    units = kept_units(guide)
    assert any("a ux researcher specialises in studying users" in u for u in units)
    for clutter in [
        "enjoyed this article?",
        "sign up to our weekly careers newsletter",
        "subscribe",
        "share this article",
    ]:
        assert not any(clutter in u for u in units), clutter
    assert not any(s.heading_path[-1] == "Related articles" for s in guide.sections)


def test_a_pointer_to_a_video_the_text_does_not_hold_is_never_quoted():
    text = (
        "Paramedic\n\nParamedics give emergency care to patients on the way to hospital.\n\n"
        "Career Videos\nWatch the video below to see what a day in the life of a paramedic is like.\n\n"
        "Work Environment\nParamedics work shifts, including nights, and record short video clips of scenes for training.\n"
    )
    guide = parse_guide(text, "paramedic.txt")
    units = kept_units(guide)
    assert not any("watch the video" in u for u in units)
    assert any("video clips of scenes" in u for u in units)


def test_a_tables_source_and_note_lines_are_never_quoted_but_a_note_in_the_text_is():
    text = (
        "Welder\n\nWelders join metal parts with heat.\n\nPay\nMedian annual wages, May 2024\n"
        "Welders\t$51,000\nTotal, all occupations\t$49,500\n"
        "Note: All Occupations includes all occupations in the U.S. Economy.\n"
        "Source: U.S. Bureau of Labor Statistics, Occupational Employment and Wage Statistics\n"
        "The median annual wage for welders was $51,000 in May 2024.\n\n"
        "Training\nMost welders learn in a one-year program. Note: some employers train on the job.\n\n"
        "Note: Underwater welders need a diving certificate first.\n"
    )
    guide = parse_guide(text, "welder.txt")
    units = kept_units(guide)
    assert not any("all occupations includes" in u or "bureau of labor" in u for u in units)
    assert any("median annual wage for welders" in u for u in units)  # the text under the footnotes stays
    assert any(u.startswith("welders") and "$51,000" in u for u in units)  # the table stays
    assert any("underwater welders" in u for u in units)  # a note under text is text
    assert [e.reason for e in guide.excluded] == ["table footnote"]
    assert guide.excluded[0].units == 2
    for gap in ("\n", ""):  # a line right under a pipe table, no blank line between, is read as one more row
        md = f"# Welder\n\n## Pay\n\n| Job | Median |\n|---|---|\n| Welders | $51,000 |\n{gap}*Source: the state survey.*\n"
        guide = parse_guide(md, "welder.md")
        assert not any("state survey" in u for u in kept_units(guide)), gap
        assert any("$51,000" in u for u in kept_units(guide))


@pytest.mark.parametrize(
    ("after", "kept"),
    [
        ("Note: pay is higher in Alaska. Welders in Alaska earn the most of any state.", "pay is higher in alaska"),
        ("Source: BLS. The median annual wage for welders was $51,000 in May 2024.", "median annual wage for welders"),
        (
            "Note: to earn the top wage you need:\n- a pipe welding certificate\n- five years on site",
            "to earn the top wage",
        ),
        ("Licensing\nNote: a state license is required for structural work.", "state license is required"),
    ],
)
def test_a_note_under_a_table_that_is_more_than_a_footnote_stays(after, kept):
    """A note that says more, a short credit run into text, one that leads into a list, one under another heading."""
    text = (
        "Welder\n\nWelders join metal parts with heat.\n\nPay\nWelders\t$51,000\nAll workers\t$49,500\n" + after + "\n"
    )
    units = kept_units(parse_guide(text, "welder.txt"))
    assert any(kept in u for u in units), units


def test_a_newsletter_mentioned_in_real_text_is_not_clutter():
    text = (
        "# Email Marketing Specialist\n\n## What they do\n\n"
        "Email marketing specialists plan newsletters and grow the list of subscribers. "
        "They test subject lines and measure how many people open each message. "
        "They work with designers on templates.\n"
    )
    guide = parse_guide(text, "email.md")
    assert len(kept_units(guide)) == 3 and not guide.excluded


def test_one_selling_word_in_a_short_real_section_is_not_clutter():
    text = (
        "Crane Operator Guide\n\nCrane operators lift loads on building sites.\n\n"
        "Overtime\n\nOvertime is paid at a premium rate on most sites.\n\n"
        "More Resources\n\nUnions\n\nThe operators' union runs training courses for new members.\n"
    )
    guide = parse_guide(text, "crane.txt")
    units = kept_units(guide)
    assert any("premium rate" in u for u in units)
    assert any("union runs training" in u for u in units)
    assert not guide.excluded


def test_the_same_sentence_on_every_card_is_content_under_related_careers():
    text = (
        "Plumber Guide\n\nPlumbers fit pipes in homes and offices.\n\nRelated Careers\n\n"
        "Explore similar roles that might align with your interests and skills:\n\n"
        "Pipefitter\n\nA growing field with similar skill requirements.\n\nExplore career guide\n\n"
        "Gas Engineer\n\nA growing field with similar skill requirements.\n\nExplore career guide\n\n"
        "Heating Technician\n\nA growing field with similar skill requirements.\n\nExplore career guide\n"
    )
    guide = parse_guide(text, "plumber.txt")
    assert [s.heading_path[-1] for s in guide.sections][-3:] == ["Pipefitter", "Gas Engineer", "Heating Technician"]


def test_lines_shared_by_two_guides_are_found():
    shared = shared_lines(
        {
            "a.txt": ["Sign up for job alerts today", "Welders join metal."],
            "b.txt": ["Sign up for job alerts today", "Nurses care."],
        }
    )
    assert shared["a.txt"] == frozenset({"sign up for job alerts today"})
    assert shared["b.txt"] == shared["a.txt"]


# -- staff exclusions -------------------------------------------------------------------


def write_settings(corpus: Path, body: str) -> None:
    (corpus / "coach.toml").write_text(body, encoding="utf-8")


def test_staff_exclude_a_section_by_name(corpus):
    write_settings(
        corpus,
        f'[guides."{SEED.name}"]\nexclude = ["Visa & Immigration", "Market Commentary", "No Such Heading"]\n',
    )
    scan = scan_corpus(corpus)
    guides = {g.source: g for g in parse_corpus(corpus, scan.guides)}
    seed = guides[SEED.name]
    leaves = {s.heading_path[-1] for s in seed.sections}
    assert "Visa & Immigration" not in leaves and "Market Commentary" not in leaves and "Remote Work" in leaves
    listed = excluded_sections(corpus)
    assert set(listed) == {SEED.name, WIND, DENTAL}
    staff = [e for e in listed[SEED.name] if e.reason.startswith("excluded by staff")]
    assert {e.heading_path[-1] for e in staff} == {"Visa & Immigration", "Market Commentary", "No Such Heading"}
    unknown = next(e for e in staff if e.heading_path[-1] == "No Such Heading")
    assert unknown.units == 0 and "no section" in unknown.reason
    assert not any(e.reason.startswith("excluded by staff") for e in listed[WIND])


def test_settings_file_errors_are_one_sentence(corpus):
    write_settings(corpus, "[guides\nexclude = ")
    with pytest.raises(CoachError, match="cannot be read"):
        load_settings(corpus)
    write_settings(corpus, '[guides."a.txt"]\nexclude = "Pay"\n')
    with pytest.raises(CoachError, match="exclude"):
        load_settings(corpus)


def test_no_settings_file_means_nothing_excluded_by_staff(tmp_path):
    assert load_settings(tmp_path).guides == {}


# -- many guides --------------------------------------------------------------------------


@pytest.fixture
def multi(settings, fake_embedder):  # noqa: ANN201
    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    return Coach(index, fake_embedder, None, load_model())


def test_guide_title_is_part_of_every_unit_context(multi):
    for p in multi.index.passages:
        assert unit_context(p, p.units[0]).startswith(p.title)


def test_scope_keeps_retrieval_inside_one_guide(multi, fake_embedder):
    from coach import lexical

    q = "What does the job pay and how do I get started?"
    qvec = fake_embedder.encode([q])[0]
    unscoped = {h.passage.source for h in retrieve(multi.index, qvec, lexical.tokens(q), k=12)}
    assert len(unscoped) > 1
    for guide in (WIND, DENTAL, SEED.name):
        hits = retrieve(multi.index, qvec, lexical.tokens(q), k=12, guide=guide)
        assert hits and {h.passage.source for h in hits} == {guide}


def small_coach(folder: Path, fake_embedder, guides: dict[str, str | None]) -> Coach:  # noqa: ANN001
    """A coach over a corpus of the given guides: a fixture's file name -> None, or a name -> its text."""
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for name, text in guides.items():
        if text is None:
            shutil.copy(FIXTURES / name, corpus)
        else:
            (corpus / name).write_text(text, encoding="utf-8")
    s = Settings(corpus_dir=corpus, index_dir=folder / "idx", audit_db=folder / "a.db")
    build_index(s, fake_embedder)
    return Coach(load_index(s, fake_embedder.model_id), fake_embedder, None, load_model())


def test_a_guide_answers_the_same_alone_or_among_others(multi, fake_embedder, tmp_path):
    """Adding guides to the corpus must not change what a question scoped to one guide gets."""
    alone = small_coach(tmp_path / "alone", fake_embedder, {WIND: None})
    for q in ["What skills do I need?", "What does a lead windtech earn?", "how long is the training?",
              "Is there a union?", "what certifications do I need?"]:  # fmt: skip
        scoped, single = multi.ask(q, guide=WIND), alone.ask(q)
        # The same decision and the same quotes (an abstention also lists the corpus's guides).
        assert scoped.abstained == single.abstained, q
        assert [x.text for x in scoped.sentences] == [x.text for x in single.sentences], q


def test_a_guide_is_named_by_its_file_name_too(fake_embedder, tmp_path):
    teacher = (
        "Teaching as a Second Career\n\nWhy teach?\nTeaching is one of the most rewarding jobs.\n\n"
        "Pay\nThe median salary of high school teachers was $60,320.\n"
    )
    index = small_coach(tmp_path, fake_embedder, {WIND: None, "teacher.txt": teacher}).index
    # The title never says "teachers"; the file name the staff gave it does.
    assert named_guide(index, "what do teachers earn?") == "teacher.txt"
    assert named_guide(index, "what do wind turbine technicians earn?") == WIND


def test_a_country_typed_without_dots_is_one_the_guide_names_with_them(fake_embedder, tmp_path):
    guide = (
        "Software Engineer\n\nPay\nAccording to the [U.S Bureau of Labor Statistics](https://www.bls.gov/ooh/), "
        "the median salary for software engineers is $109,020 per year.\n\n"
        "Skills\nMost U.K. employers look for Git and testing.\n"
    )
    index = small_coach(tmp_path, fake_embedder, {"software-engineer.md": guide}).index
    # "in the US?" asks about a place the guide names ("U.S"), not one it never mentions.
    assert index.knows("us") and index.knows("uk")
    assert index.lexical_scores(["us"]).max() > 0
    # Typed with dots or without, the place is one the guide names: no unknown word.
    for q in ("What is the median salary in the US?", "median salary for software engineers in the U.S.?"):
        assert "us" in subject_words(q) and unknown_words(subject_words(q), index.knows) == [], q


def test_the_initials_of_the_guides_career_are_read_as_the_career(fake_embedder, tmp_path):
    ot = (
        "Occupational Therapists\n\nPay\nThe median annual wage for occupational therapists was $98,340.\n\n"
        "Where They Work\nMost occupational therapists work in hospitals and schools.\n"
    )
    hr = "Human Resources Managers\n\nWhat They Do\nHR managers plan the work of HR staff and hire people.\n"
    coach = small_coach(tmp_path, fake_embedder, {"occupational-therapist.txt": ot, "hr-manager.txt": hr})
    index = coach.index
    ot_words = guide_vocabulary(index, "occupational-therapist.txt").knows
    initials = career_initials(index, "occupational-therapist.txt")
    # "OTs" is how a job seeker types the career the guide spells out; what is searched says it in full.
    assert expand_initials("how much do OTs make?", initials, ot_words) == "how much do occupational therapists make?"
    assert expand_initials("is an OT paid well?", initials, ot_words) == "is an occupational therapist paid well?"
    answer = coach.ask("how much do OTs make?", guide="occupational-therapist.txt")
    assert "occupational therapists" in answer.query and answer.question == "how much do OTs make?"
    # Initials the guide itself uses are its own word, and lower-case words are left alone.
    hr_words = guide_vocabulary(index, "hr-manager.txt").knows
    assert expand_initials("what do HR managers do?", career_initials(index, "hr-manager.txt"), hr_words) == (
        "what do HR managers do?"
    )
    assert expand_initials("ot and pay", initials, ot_words) == "ot and pay"
    # Typed in capitals, the plural is still the career's.
    assert expand_initials("HOW MUCH DO OTS MAKE", initials, ot_words) == "HOW MUCH DO occupational therapists MAKE"


def test_initials_that_are_an_everyday_word_or_follow_the_career_in_full_are_not_the_career(fake_embedder, tmp_path):
    hi = "Health Information Technicians\n\nPay\nHealth information technicians earn about $47,190.\n"
    ca = "Cybersecurity Analysts\n\nPay\nCybersecurity analysts earn about $120,000 a year.\n"
    index = small_coach(tmp_path, fake_embedder, {"health-information.txt": hi, "cybersecurity-analyst.txt": ca}).index
    hi_words = guide_vocabulary(index, "health-information.txt").knows
    # "HI" spells the career, but it is an everyday word first.
    assert "HI" not in career_initials(index, "health-information.txt")
    assert expand_initials("HI! What do they earn?", career_initials(index, "health-information.txt"), hi_words) == (
        "HI! What do they earn?"
    )
    # "CA" is this career's initials, unless the question has just named the career in full.
    initials, ca_words = (
        career_initials(index, "cybersecurity-analyst.txt"),
        guide_vocabulary(index, "cybersecurity-analyst.txt").knows,
    )
    assert expand_initials("how much do CAs earn?", initials, ca_words) == "how much do cybersecurity analysts earn?"
    question = "Do cybersecurity analysts in CA earn more?"
    assert expand_initials(question, initials, ca_words) == question


def test_initials_name_their_guide_and_two_guides_share_are_read_only_when_one_is_chosen(fake_embedder, tmp_path):
    ot = "Occupational Therapists\n\nPay\nThe median annual wage for occupational therapists was $98,340.\n"
    office = "Office Technicians\n\nPay\nOffice technicians earn about $45,000 a year.\n"
    welder = "Welders\n\nPay\nWelders earn about $48,000 a year.\n"
    coach = small_coach(tmp_path, fake_embedder, {"occupational-therapist.txt": ot, "welder.txt": welder})
    # With no guide chosen, the career's initials pick its guide as its name would.
    assert coach.ask("how much do OTs make?").guide == "occupational-therapist.txt"
    index = small_coach(
        tmp_path / "shared", fake_embedder, {"occupational-therapist.txt": ot, "office-technician.txt": office}
    ).index
    assert "OT" not in career_initials(index, None)
    assert career_initials(index, "office-technician.txt")["OT"] == "office technician"


def test_scoped_answers_quote_only_that_guide(multi):
    for guide in (WIND, DENTAL):
        answer = multi.ask("What skills do I need?", guide=guide)
        assert answer.guide == guide
        assert all(c.source == guide for c in answer.citations)
        assert all(c.title for c in answer.citations)


def test_a_scoped_question_knows_only_its_guides_words(multi):
    wind = guide_vocabulary(multi.index, WIND).knows
    assert wind("turbines") and wind("technician")
    assert multi.index.knows("hygienists") and not wind("hygienists")


def test_an_unknown_guide_lists_the_choices(multi):
    with pytest.raises(CoachError) as err:
        multi.ask("What does it pay?", guide="astronaut.txt")
    assert WIND in str(err.value) and DENTAL in str(err.value)
    assert check_guide(multi.index, f"some/folder/{WIND}") == WIND


def test_a_question_naming_a_career_picks_its_guide(multi):
    assert named_guide(multi.index, "what do wind turbine technicians earn?") == WIND
    assert named_guide(multi.index, "How do dental hygienists get licensed?") == DENTAL
    assert named_guide(multi.index, "what is the median salary?") is None
    assert named_guide(multi.index, "is a technician's job secure?") is None  # one career word of several
    answer = multi.ask("what training do wind turbine technicians need?")
    assert answer.guide == WIND
    assert all(c.source == WIND for c in answer.citations)


def test_a_conversation_stays_with_the_career_it_named(multi):
    assert conversation_guide(multi.index, "and how long is the training?", None, WIND) == WIND
    assert conversation_guide(multi.index, "what do dental hygienists earn?", None, WIND) == DENTAL
    assert conversation_guide(multi.index, "what do dental hygienists earn?", WIND, None) == WIND  # a pick wins


def test_a_career_the_corpus_lacks_is_an_honest_abstention(multi):
    answer = multi.ask("what do plumbers earn?")
    assert answer.abstained and answer.guide is None
    assert 'no guide here about "plumbers"' in answer.text
    assert "Wind Turbine Technician Career Guide" in answer.text and "Dental Hygienist Career Guide" in answer.text
    # Not a missing career: a doer of something the guides know, an everyday word, a job they cover.
    for q in ["what do the top earners make?", "have you never heard of it?", "do wind technicians earn well?"]:
        assert missing_career(multi.index, q) is None, q


def test_an_abstention_says_which_guides_exist(multi):
    answer = multi._abstain("Can I be an astronaut?", "Can I be an astronaut?", [], 0.0, {})
    assert answer.abstained
    assert "Wind Turbine Technician Career Guide" in answer.text and "Dental Hygienist Career Guide" in answer.text


def test_one_guide_is_implied(tmp_path, fake_embedder):
    coach = small_coach(tmp_path, fake_embedder, {WIND: None})
    assert named_guide(coach.index, "what do dental hygienists earn?") is None
    answer = coach.ask("what's the weather in Paris tomorrow?")
    assert "The career guides here" not in answer.text


def test_batch_lines_carry_a_guide(tmp_path):
    path = tmp_path / "convs.jsonl"
    path.write_text(json.dumps({"id": 1, "guide": WIND, "turns": [{"q": "pay?"}, {"q": "and hours?"}]}) + "\n")
    ((_, conv),) = list(read_conversations(path))
    assert isinstance(conv, Conversation) and conv.guide == WIND

    class Recorder:
        index = None  # a picked guide needs no index to find one named

        def __init__(self) -> None:
            self.guides: list[str | None] = []

        def ask(self, q, history=None, guide=None):  # noqa: ANN001, ANN201
            from coach.records import Answer

            self.guides.append(guide)
            return Answer(question=q, query=q, abstained=True, text="", guide=guide)

    rec = Recorder()
    run_conversation(rec, conv)  # type: ignore[arg-type]
    assert rec.guides == [WIND, WIND]


def test_cli_takes_a_guide_on_ask_search_and_chat():
    parser = build_parser()
    for argv in (["ask", "pay?"], ["search", "pay"], ["chat"]):
        assert parser.parse_args([*argv, "--guide", WIND]).guide == WIND
        assert parser.parse_args(argv).guide is None


# -- the chat picker ------------------------------------------------------------------------


@pytest.fixture
def picker_app(multi, settings, tmp_path, monkeypatch):  # noqa: ANN201
    """The chat page over the three-guide corpus, with the fake-embedder coach."""
    import views.shared

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COACH_CORPUS", str(settings.corpus_dir))
    monkeypatch.setenv("COACH_INDEX", str(settings.index_dir))
    monkeypatch.setenv("COACH_AUDIT_DB", str(tmp_path / "audit.sqlite3"))
    monkeypatch.setattr(views.shared, "coach", lambda: multi)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "views" / "chat.py"), default_timeout=60)
    at.run()
    return at


def test_one_guide_needs_no_picker(tmp_path, fake_embedder, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import views.shared

    engine = small_coach(tmp_path, fake_embedder, {WIND: None})
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COACH_AUDIT_DB", str(tmp_path / "audit.sqlite3"))
    monkeypatch.setattr(views.shared, "coach", lambda: engine)
    at = AppTest.from_file(str(ROOT / "views" / "chat.py"), default_timeout=60)
    at.run()
    assert not at.exception and len(at.selectbox) == 0


def test_picker_scopes_the_chat(picker_app):
    at = picker_app
    assert not at.exception
    assert len(at.selectbox) == 1
    box = at.selectbox[0]
    assert box.value is None
    assert "Wind Turbine Technician Career Guide" in box.options and "Dental Hygienist Career Guide" in box.options
    box.set_value(WIND).run()
    at.chat_input[0].set_value("What skills do I need?").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert labels and all("Wind Turbine Technician Career Guide" in label for label in labels)


def test_a_list_that_runs_on_into_the_next_passage_is_quoted_with_its_items(tmp_path, fake_embedder):
    filler = " ".join(["Forest work is varied and depends on the season and the employer."] * 9)  # ~108 words
    guide = (
        "Forester Career Guide\n\nDuties\n"
        f"{filler}\nForest workers typically do the following:\n"
        "- Plant seedlings to reforest land after a harvest or a fire\n"
        "- Clear away brush and debris from trails and roadsides\n"
        "- Count and measure trees during tree-measuring efforts\n"
    )
    coach = small_coach(tmp_path, fake_embedder, {"forester.txt": guide})
    index = coach.index
    intro = next(
        Candidate(passage=i, unit=j, context="", dense=0.0, passage_score=0.0)
        for i, p in enumerate(index.passages)
        for j, u in enumerate(p.units)
        if u.text.startswith("Forest workers typically")
    )
    assert intro.unit == len(index.passages[intro.passage].units) - 1  # the passage ends with the introduction
    quoted = [c.get(index).text for c in coach._compose([intro])]
    assert quoted[0].startswith("Forest workers typically") and len(quoted) == 3
    assert quoted[1].startswith("Plant seedlings") and quoted[2].startswith("Clear away brush")


def _unit(index, start: str) -> Candidate:  # noqa: ANN001
    return next(
        Candidate(passage=i, unit=j, context="", dense=0.0, passage_score=0.0)
        for i, p in enumerate(index.passages)
        for j, u in enumerate(p.units)
        if u.text.startswith(start)
    )


def _answer(coach: Coach, *starts: str, score: float = 0.0) -> list[str]:
    """The texts ``_compose`` quotes for the units starting so (the first is the best one)."""
    ranked = [_unit(coach.index, start).model_copy(update={"score": score}) for start in starts]
    return [c.get(coach.index).text for c in coach._compose(ranked)]


def test_an_introduction_over_a_paragraph_is_quoted_with_its_first_sentence(tmp_path, fake_embedder):
    # A heading-like line with a colon, then prose, not a list: the prose is what it introduces.
    guide = (
        "Mechanical Engineering Degree\n\nStructure\n\n"
        "The first year covers calculus, physics and chemistry.\n\n"
        "Thermofluid Mechanics:\n\n"
        "Next you learn how energy and fluids behave. This holds the thermodynamics and heat transfer classes.\n\n"
        "System Dynamics:\n\nThis covers vibrations and control systems.\n"
    )
    coach = small_coach(tmp_path, fake_embedder, {"mech.txt": guide})
    assert _answer(coach, "Thermofluid") == ["Thermofluid Mechanics:", "Next you learn how energy and fluids behave."]
    # The place the one sentence leaves goes to a confident unit of the ranking.
    quoted = _answer(coach, "Thermofluid", "This covers vibrations", score=3.0)
    assert len(quoted) == 3 and quoted[2] == "This covers vibrations and control systems."


def test_an_introduction_over_a_sub_heading_is_quoted_with_the_list_under_it(tmp_path, fake_embedder):
    guide = (
        "# Welder Career Guide\n\n## Pay\n\n"
        "Pay varies with the employer and the region. The median wages in the top industries were as follows:\n\n"
        "### Median wages by industry, May 2024\n\n"
        "- Hospitals: $61,000\n- Clinics: $54,000\n- Retail: $41,000\n\n## Work Environment\n\nMost work full time.\n"
    )
    quoted = _answer(small_coach(tmp_path, fake_embedder, {"welder.md": guide}), "The median wages in the top")
    assert quoted == [
        "The median wages in the top industries were as follows:",
        "Hospitals: $61,000",
        "Clinics: $54,000",
    ]


def test_a_continued_sentence_that_introduces_a_list_comes_with_its_first_item(tmp_path, fake_embedder):
    guide = (
        "Engineering Projects\n\nProject Tips\n\n"
        "Open-ended projects are hard at first. It helps to keep a checklist of what matters most:\n"
        "- Vibrations: how does the system respond to excitations?\n"
        "- Cost: can it be made more affordable?\n"
    )
    quoted = _answer(small_coach(tmp_path, fake_embedder, {"projects.txt": guide}), "Open-ended projects")
    assert quoted[1].startswith("It helps to keep a checklist") and len(quoted) == 3
    assert quoted[2].startswith("Vibrations")


def test_the_ends_of_a_table_that_runs_on_over_two_passages_are_the_whole_tables(tmp_path, fake_embedder):
    rows = [f"Industry number {k} | ${40_000 + 500 * k:,}" for k in range(40)]  # the highest figure comes last
    guide = "Welder Career Guide\n\nPay by industry\n\nIndustry | Median wage\n" + "\n".join(rows) + "\n"
    coach = small_coach(tmp_path, fake_embedder, {"welder.txt": guide})
    index = coach.index
    where = {
        u.text: (i, j) for i, p in enumerate(index.passages) for j, u in enumerate(p.units) if u.kind == "table_row"
    }
    assert len({i for i, _ in where.values()}) >= 2  # the table is split
    assert coach._table_ends(*where[rows[-1]]) == (True, False)
    assert coach._table_ends(*where[rows[0]]) == (False, True)
    first_part = [t for t in rows if where[t][0] == where[rows[0]][0]]
    assert coach._table_ends(*where[first_part[-1]]) == (False, False)  # its passage's highest, not the table's


def test_the_held_out_guides_never_fitted_the_shipped_model():
    """`coach eval --sets eval/holdout/sets.json` measures guides the answer model never saw:
    none of their guides or question files is among what the shipped model was fitted on."""
    from coach.train import file_ids

    model = json.loads((ROOT / "coach" / "answer_model.json").read_text(encoding="utf-8"))
    fitted = [entry.replace("@", ":").split(":") for entry in model["trained_on"]]  # guide, file, content hash
    sets, _ = load_sets(ROOT / "eval" / "holdout" / "sets.json")
    held = [entry.replace("@", ":").split(":") for entry in file_ids(sets)]
    assert len(held) == 3 * len(sets) and len(sets) >= 6
    for part in range(3):  # no held-out guide's name, no file name, no file's content
        assert not {h[part] for h in held} & {f[part] for f in fitted}
    if model.get("reader"):  # nor was the reader it ships with tuned on one of them, and it is the one named
        from coach.reader import file_sha256

        assert model["reader"]["trained_on"] and set(model["reader"]["trained_on"]) <= {f[0] for f in fitted}
        assert file_sha256(ROOT / "coach" / model["reader"]["file"]) == model["reader"]["sha256"]


def test_cv_folds_never_answer_a_guide_with_a_model_that_saw_it(monkeypatch):
    from types import SimpleNamespace

    import coach.experiment as experiment

    sets, _ = load_sets(ROOT / "eval" / "sets.json")
    names = [gs.name for gs in sets]
    fits: list[set[str]] = []

    def fit(turns):  # the model stands for the guides it was fitted on
        fits.append({t.guide for t in turns})
        return frozenset(fits[-1])

    answered: dict[str, frozenset] = {}

    class Bench:
        def __init__(self):
            self.sets, self.sources = sets, {n: {} for n in names}
            self.log = lambda _: None

        def collect(self):
            return [SimpleNamespace(guide=n) for n in names for _ in range(2)]

        def run(self, gs, model):
            answered[gs.name] = model
            return [], []

        def run_baseline(self, gs):
            return []

    monkeypatch.setattr(experiment, "fit_model", fit)
    monkeypatch.setattr(experiment, "score", lambda *a: experiment.EvalReport.model_construct(single_hit=0.0))
    for folds, groups in [(11, 11), (None, len(names))]:
        fits.clear()
        answered.clear()
        experiment.evaluate_sets(Bench(), None, cv=True, folds=folds)
        assert len(fits) == groups  # one fit per group
        assert set(answered) == set(names)
        for name, model in answered.items():
            assert name not in model  # fitted without its guide...
            assert len(model) >= len(names) - math.ceil(len(names) / groups)  # ...and without only its group
    assert experiment.fold_of(names[:3], 11) == {n: i for i, n in enumerate(names[:3])}  # more groups than guides


def holdout_sets(folder: Path, n: int) -> Path:
    """A sets file in ``folder`` naming the first ``n`` held-out guides by absolute paths."""
    holdout = ROOT / "eval" / "holdout"
    guides = json.loads((holdout / "sets.json").read_text())["guides"][:n]
    for g in guides:
        g["guide"] = str(holdout / g["guide"])
        g["questions"] = [str(holdout / q) for q in g["questions"]]
    (folder / "sets.json").write_text(json.dumps({"guides": guides}))
    return folder / "sets.json"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--folds", "5"], "--folds needs --cv and at least 2 groups"),
        (["--cv", "--folds", "1"], "--folds needs --cv and at least 2 groups"),
        (["--cv", "--folds", "2"], "--folds 2 leaves fewer than 2 of the 3 guides to fit on"),
    ],
)
def test_folds_that_cannot_be_run_are_one_clear_sentence(argv, says, capsys, tmp_path):
    from coach.cli import main

    # Three guides: two groups would fit one group's model on a single guide.
    assert main(["eval", "--sets", str(holdout_sets(tmp_path, 3)), *argv]) == 2  # a usage error
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_tuned_readers_never_read_a_guide_they_were_tuned_on(monkeypatch, tmp_path):
    """`coach train --reader tuned` / `coach eval --cv --reader tuned`: each guide is read by the
    reader tuned on the other half of the guides."""
    from types import SimpleNamespace

    import coach.experiment as experiment

    sets, _ = load_sets(ROOT / "eval" / "sets.json")
    names = [gs.name for gs in sets]
    tuned_on: dict[str, list[str]] = {}

    def tune(wb, questions, guides, label):
        tuned_on[label] = guides
        return tmp_path / label

    monkeypatch.setattr(experiment, "tune_reader", tune)
    monkeypatch.setattr(experiment, "MemoTunedCrossEncoder", lambda model_dir, file: file.name)
    wb = SimpleNamespace(sets=sets, reranker=SimpleNamespace(available=True, model_dir="m"), readers={})
    asked = [("What do they earn?", ["$40,000 a year.", "They work shifts."], np.array([True, False]), np.zeros(2))]
    oos_only = names[0]  # a guide whose labelled questions are all out of scope
    experiment.cross_fit_readers(wb, {n: asked if n != oos_only else [] for n in names})
    assert set(wb.readers) == set(names)  # every guide is read by a tuned reader
    assert sorted(tuned_on["half0"] + tuned_on["half1"] + [oos_only]) == sorted(names)
    assert abs(len(tuned_on["half0"]) - len(tuned_on["half1"])) <= 1
    for name, reader in wb.readers.items():
        assert name not in tuned_on[reader]


def test_a_collection_is_reread_by_each_guides_tuned_reader(monkeypatch):
    """``rescored``: the first stage's best candidates and the right ones get the guide's reader's
    logit; the rest, which no pool reads, score below all of them; a guide without one is untouched."""
    from types import SimpleNamespace

    import coach.experiment as experiment
    from coach.features import CANDIDATE_FEATURES
    from tests.conftest import labelled_turn

    rng = np.random.default_rng(0)
    logit, bm25 = CANDIDATE_FEATURES.index("logit"), CANDIDATE_FEATURES.index("bm25")
    turns = []
    for g in ("a", "b"):
        for k in range(6):
            labels = np.zeros(30, dtype=bool)
            labels[[3, 25]] = True  # 25 is far down the first stage's order
            t = labelled_turn(g, str(k), rng.normal(size=8), labels)
            rows = t.rows.copy()
            rows[:, bm25] = np.linspace(1, 0, 30) + rng.normal(scale=0.01, size=30)
            rows[:, logit] = 5.0
            turns.append(t.model_copy(update={"rows": rows, "reranked": True, "query": f"q{k}"}))

    class Reader:
        def score(self, query, texts):
            return np.asarray([float(x.split()[-1]) for x in texts])

    wb = SimpleNamespace(readers={"a": Reader()}, log=lambda _: None)
    monkeypatch.setattr(experiment, "reader_texts", lambda wb: {"a": {}, "b": {}})
    out = experiment.rescored(wb, turns)
    for t, o in zip(turns, out, strict=True):
        if t.guide == "b":
            assert np.array_equal(o.rows, t.rows)
            continue
        read = o.rows[:, logit] != o.rows[:, logit].min()
        assert read.sum() == experiment.RESCORED + 1 and read[25] and read[3]  # the pool's twice, and the right ones
        assert np.array_equal(o.rows[read, logit], np.flatnonzero(read).astype(float))
        assert o.rows[~read, logit].max() == o.rows[read, logit].min() - 1


def test_training_a_tuned_reader_with_the_cross_encoder_off_is_one_clear_sentence(capsys, tmp_path, monkeypatch):
    """`coach train` (tuned by default) with COACH_RERANKER=0 stops before fitting anything,
    instead of writing a model without a reader over the shipped one."""
    from coach.cli import main

    monkeypatch.setenv("COACH_RERANKER", "0")
    out = tmp_path / "m.json"
    assert main(["train", "--sets", str(holdout_sets(tmp_path, 1)), "--out", str(out), "--cache", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "needs the cross-encoder" in err and "--reader installed" in err and "Traceback" not in err
    assert not out.exists()
    from coach.errors import CoachError
    from coach.experiment import require_reranker
    from coach.rerank import CrossEncoder

    with pytest.raises(CoachError, match="not installed"):  # a cross-encoder whose files are missing
        require_reranker(CrossEncoder(str(tmp_path / "none")))
