"""Parsing: the seed's structure, and guides of other shapes."""

from __future__ import annotations

from coach.parse import parse_guide
from tests.conftest import FIXTURES, SEED


def seed():
    return parse_guide(SEED.read_text(encoding="utf-8"), SEED.name)


def test_seed_title_and_sections():
    g = seed()
    assert g.title == "Complete Health Information Systems Technician Career Guide"
    leaves = [s.heading_path[-1] for s in g.sections]
    for heading in [
        "Key Responsibilities",
        "Work Environment",
        "Technical Skills",
        "Soft Skills",
        "Market Commentary",
        "Remote Work",
    ]:
        assert heading in leaves


def test_seed_salary_table_has_five_rows_with_both_columns():
    g = seed()
    assert len(g.tables) == 1
    rows = g.tables[0]
    assert len(rows) == 5
    assert rows[0].columns == ["Level", "US Median", "US Average"]
    assert rows[3].cells == ["Health Information Systems Specialist", "$92k USD", "$95k USD"]


def test_seed_faq_pairs_every_question_with_its_answer():
    g = seed()
    assert len(g.faq) == 8
    assert all(p.question.endswith("?") and len(p.answer.split()) > 20 for p in g.faq)
    remote = [p for p in g.faq if "remotely" in p.question][0]
    assert "physically interact with hardware" in remote.answer


def test_seed_seven_steps_and_five_levels_with_years():
    g = seed()
    assert [s.number for s in g.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert "Registered Health Information Technician (RHIT)" in g.steps[1].text
    assert [(lv.title, lv.years) for lv in g.levels][2] == ("Senior Health Information Systems Technician", "4-7 years")
    assert len(g.levels) == 5 and g.levels[-1].years == "10+ years"


def test_seed_key_facts_are_label_value_pairs():
    facts = {f.label: f.value for f in seed().facts}
    assert facts["Median Salary"].startswith("$47,190 USD")
    assert "Physicians' Offices" in facts["Top Industries"]
    assert facts["Growth Outlook"].startswith("7%")


def test_career_level_sections_carry_their_years():
    paths = [" > ".join(s.heading_path) for s in seed().sections]
    assert any(
        p.endswith("Career Path > Senior Health Information Systems Technician (4-7 years) > Key Focus Areas")
        for p in paths
    )


def test_units_are_exact_slices_of_the_source():
    for path in [SEED, FIXTURES / "wind-turbine-technician.txt", FIXTURES / "dental-hygienist.md"]:
        text = path.read_text(encoding="utf-8")
        g = parse_guide(text, path.name)
        for s in g.sections:
            for u in s.units:
                assert text[u.char_start : u.char_end] == u.text


def test_plain_text_guide_of_another_shape():
    text = (FIXTURES / "wind-turbine-technician.txt").read_text(encoding="utf-8")
    g = parse_guide(text, "wind.txt")
    assert g.title == "Wind Turbine Technician Career Guide"
    assert g.tables[0][2].cells == ["Lead Windtech", "$38 per hour", "$79,000 per year"]
    assert g.tables[0][0].columns == ["Level", "Hourly Wage", "Annual Pay"]
    assert len(g.faq) == 3 and len(g.steps) == 4
    assert [lv.years for lv in g.levels] == ["0-2 years", "2-5 years", "5+ years"]
    assert {f.label for f in g.facts} >= {"Median Pay", "Job Outlook", "Work Sites"}


def test_markdown_guide():
    text = (FIXTURES / "dental-hygienist.md").read_text(encoding="utf-8")
    g = parse_guide(text, "dental.md")
    assert g.title == "Dental Hygienist Career Guide"
    assert ["Dental Hygienist Career Guide", "What Hygienists Do", "Tools"] in [s.heading_path for s in g.sections]
    assert g.tables[0][0].columns == ["Setting", "Median Salary"]
    assert len(g.steps) == 4 and len(g.faq) == 2
    assert {f.label: f.value for f in g.facts}["Median salary"] == "$87,530 per year"
    assert [lv.years for lv in g.levels] == ["0-3 years", "3-8 years"]


def test_guide_without_headings_is_one_section():
    text = "This guide has no headings at all. It is one long paragraph about nursing. It still works."
    g = parse_guide(text, "notes/plain-notes.txt")
    assert len(g.sections) == 1
    assert g.title == "Plain Notes"
    assert len(g.sections[0].units) == 3
