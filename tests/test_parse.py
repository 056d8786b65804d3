"""Parsing: the seed's structure, and guides of other shapes."""

from __future__ import annotations

import pytest

from coach.parse import parse_guide
from coach.records import Guide, Unit
from tests.conftest import FIXTURES, ROOT, SEED

# Real guides from four publishers, kept outside the project (see their SOURCES.md).
SHARED_GUIDES = ROOT.parent / "shared" / "guides"
FOREST = "forest-and-conservation-workers.txt"
CONTROLLER = "financial-controller.txt"
MARKETING = "digital-marketing.txt"
DEVOPS = "devops-engineer.md"


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


def test_a_title_with_a_byline_right_under_it_is_the_title():
    text = (
        "How to Become a Nurse in the UK: Salary, Skills and Career Path\n"
        "By Sam Lee | Careers desk | Updated 3 March 2025\n\n"
        "Nurses look after patients in hospitals and in the community.\n\n"
        "Pay\n\nNurses start on about £29,000 a year.\n"
    )
    g = parse_guide(text, "nurse.txt")
    assert g.title == "How to Become a Nurse in the UK: Salary, Skills and Career Path"
    assert [g.title, "Pay"] in [s.heading_path for s in g.sections]
    coded = parse_guide(
        "Paramedical occupations\n(NOC 3234)\n\nCareer Overview\n\nThey give emergency care.\n", "paramedic.txt"
    )
    assert coded.title == "Paramedical occupations"


def test_guide_without_headings_is_one_section():
    text = "This guide has no headings at all. It is one long paragraph about nursing. It still works."
    g = parse_guide(text, "notes/plain-notes.txt")
    assert len(g.sections) == 1
    assert g.title == "Plain Notes"
    assert len(g.sections[0].units) == 3


def shared_text(name: str) -> str:
    """A guide of ../shared/guides, read in place (the tests skip on a checkout without ../shared)."""
    path = SHARED_GUIDES / name
    if not path.is_file():
        pytest.skip(f"{path} is not present (the published guides sit in ../shared beside the project)")
    return path.read_text(encoding="utf-8")


def shared(name: str) -> Guide:
    return parse_guide(shared_text(name), name)


def paths(g: Guide) -> list[list[str]]:
    return [s.heading_path for s in g.sections]


def units(g: Guide) -> list[Unit]:
    return [u for s in g.sections for u in s.units]


def unit_starting(g: Guide, prefix: str) -> Unit:
    return next(u for u in units(g) if (u.plain or u.text).startswith(prefix))


@pytest.mark.parametrize("name", [FOREST, CONTROLLER, MARKETING, DEVOPS])
def test_shared_guide_units_are_exact_slices_of_the_source(name):
    text = shared_text(name)
    g = parse_guide(text, name)
    assert len(g.sections) > 10
    for u in units(g):
        assert text[u.char_start : u.char_end] == u.text
        assert "\n" not in u.text  # no heading or line glued onto the next one


def test_headings_directly_above_their_text_and_tab_tables():
    text = (
        "Welder\n\n"
        "Summary\nWelders join metal parts.\n"
        "Pay by Industry\nIndustry\tMedian Pay\nManufacturing\t$47,000\nConstruction\t$50,000\n"
        "Most welders work full time.\n"
        "Work Schedules\nShifts are long.\n"
    )
    g = parse_guide(text, "welder.txt")
    assert g.title == "Welder"
    assert paths(g) == [
        ["Welder", "Summary"],
        ["Welder", "Summary", "Pay by Industry"],
        ["Welder", "Summary"],
        ["Welder", "Summary", "Work Schedules"],
    ]
    rows = [u for u in units(g) if u.kind == "table_row"]
    assert [(r.columns, r.cells) for r in rows] == [
        (["Industry", "Median Pay"], ["Manufacturing", "$47,000"]),
        (["Industry", "Median Pay"], ["Construction", "$50,000"]),
    ]


def test_a_heading_in_sentence_case_above_its_paragraph_is_a_section():
    text = (
        "Front-End Developer\n\n"
        "Front-end developer job outlook\n"
        "Web developer jobs should grow by 23 percent from 2021 to 2031, well above the average.\n\n"
        "Average salary for front-end developers\n"
        "Glassdoor reports an average yearly pay of $84,235 for front-end developers in the US.\n\n"
        "For more on careers in design and development visit\n"
        "our page.\n\n"
        "Most front-end developers work full time in offices\n"
        "and studios, and many of them work from home on some days of the week.\n"
    )
    g = parse_guide(text, "front-end.txt")
    assert paths(g)[:2] == [
        ["Front-End Developer", "Front-end developer job outlook"],
        ["Front-End Developer", "Average salary for front-end developers"],
    ]
    quotable = [u.text for u in units(g)]
    assert "Front-end developer job outlook" not in quotable
    assert any(u.startswith("Web developer jobs should grow") for u in quotable)
    # A sentence that lost its stop, above a short line, stays text; so does a hard-wrapped paragraph.
    assert not any(p[-1].startswith(("For more on careers", "Most front-end")) for p in paths(g))
    assert any(
        " ".join(u.split()).startswith("Most front-end developers work full time in offices and") for u in quotable
    )


def test_numbered_lines_over_paragraphs_are_sections_and_a_list_after_its_introduction_stays_a_list():
    text = (
        "Landing Your First Analyst Role\n\n"
        "1. Introduction\n\n"
        "Security teams are growing fast. This guide walks you through the steps to your first role.\n\n"
        "2. Build Your Technical Skills\n\n"
        "Employers want networking and scripting, so learn Python or Bash to automate\n"
        "repetitive work before you apply.\n\n"
        "Steps to Become a Truck Driver\n\n"
        "1. Earn a high school diploma\n\n"
        "Most employers require a diploma or its equivalent before they will train a new driver.\n\n"
        "2. Get your CDL\n\n"
        "You need a commercial driver's license, which takes a knowledge test and a driving test.\n\n"
        "Top skills include:\n\n"
        "1. Communication\n\n"
        "Drivers talk with dispatchers and customers every day, so clear speech matters a lot.\n\n"
        "Other skills:\n\n"
        "1. Patience\n\n"
        "2. Focus\n\n"
        "Most applicants hear back within two weeks of applying to a role.\n"
    )
    g = parse_guide(text, "analyst.txt")
    title = "Landing Your First Analyst Role"
    assert g.title == title
    assert [title, "Introduction"] in paths(g)
    # The paragraph under a numbered line is that section's text, hard-wrapped or not.
    skills = [u.text for s in g.sections if s.heading_path == [title, "Build Your Technical Skills"] for u in s.units]
    assert any(" ".join(u.split()).startswith("Employers want networking and scripting") for u in skills)
    # Numbered steps with their explanations: each step a section under the heading before them, in order.
    steps = title, "Steps to Become a Truck Driver"
    assert [*steps, "Earn a high school diploma"] in paths(g)
    assert [*steps, "Get your CDL"] in paths(g)
    assert [s.title for s in g.steps][-2:] == ["Earn a high school diploma", "Get your CDL"]
    # Numbered lines after a list introduction are that list's items, quoted with it, even over a paragraph.
    assert not any(p[-1] in ("Communication", "Patience", "Focus") for p in paths(g))
    assert {"Communication", "Patience", "Focus"} <= {u.text for u in units(g)}


def test_a_numbered_step_written_as_a_short_sentence_heads_its_section_but_a_long_one_stays_an_item():
    text = (
        "How to Become an HR Manager\n\n"
        "Steps to Becoming an HR Manager\n\n"
        "1. Develop the necessary skills.\n\n"
        "Employers look for people who understand the business and the law before anything else.\n\n"
        "2. Gain experience in the field.\n\n"
        "Most managers spent five to seven years as HR coordinators or specialists first.\n\n"
        "3. Most managers keep learning through certifications and short courses for many years.\n\n"
        "Certifications are not required, but they show employers that you know current practice.\n"
    )
    g = parse_guide(text, "hr.txt")
    steps = ["How to Become an HR Manager", "Steps to Becoming an HR Manager"]
    assert [*steps, "Develop the necessary skills."] in paths(g)
    assert [*steps, "Gain experience in the field."] in paths(g)
    assert not any(p[-1].startswith("Most managers keep learning") for p in paths(g))


def test_bls_profile_sections_and_title():
    g = shared(FOREST)
    title = "Forest and Conservation Workers"
    assert g.title == title
    for path in [
        [title, "Summary", "Quick Facts: Forest and Conservation Workers"],
        [title, "What Forest and Conservation Workers Do", "Duties"],
        [title, "Work Environment", "Injuries and Illnesses"],
        [title, "How to Become a Forest and Conservation Worker", "Important Qualities"],
        [title, "Job Outlook", "Job Prospects"],
    ]:
        assert path in paths(g)
    # The text after a captioned chart goes back to the tab it is in.
    pay = [s for s in g.sections if s.heading_path == [title, "Pay"]]
    assert any(u.text.startswith("The lowest 10 percent earned less than $19,100") for s in pay for u in s.units)


def test_a_run_in_heading_is_quoted_with_its_sentence():
    g = shared(FOREST)
    units = [u.text for s in g.sections for u in s.units]
    assert "Communication skills." not in units
    assert any(u.startswith("Communication skills. Forest and conservation workers must convey") for u in units)
    text = "Can I start without a degree?\n\nYes. Many designers had none. They learned on the job.\n"
    faq = parse_guide(text, "faq.txt")
    assert [u.text for s in faq.sections for u in s.units][-2:] == [
        "Yes. Many designers had none.",
        "They learned on the job.",
    ]
    # Clutter stays alone, so leaving it out never takes the sentence after it.
    video = parse_guide("Nurses\n\nWork\n\nWatch the video below. Nurses work long shifts in clinics.\n", "n.txt")
    assert "Nurses work long shifts in clinics." in [u.text for s in video.sections for u in s.units]


def test_bls_quick_facts_are_label_value_rows():
    g = shared(FOREST)
    section = next(s for s in g.sections if s.heading_path[-1].startswith("Quick Facts"))
    assert [u.kind for u in section.units] == ["table_row"] * 7
    first = section.units[0]
    assert first.columns is None
    assert first.cells == ["2016 Median Pay", "$26,940 per year $12.95 per hour"]
    assert {f.label: f.value for f in g.facts}["Typical Entry-Level Education"] == "High school diploma or equivalent"


def test_bls_tables_with_and_without_a_header_row():
    g = shared(FOREST)
    wages = unit_starting(g, "Local government, excluding education and hospitals\t$31,960")
    assert wages.kind == "table_row" and wages.cells == [
        "Local government, excluding education and hospitals",
        "$31,960",
    ]
    intro = unit_starting(g, "In May 2016, the median annual wages")
    assert intro.text.endswith("as follows:") and intro.block == wages.block
    projections = unit_starting(g, "Forest and conservation workers\t45-4011")
    assert projections.columns == [
        "Occupational Title",
        "SOC Code",
        "Employment, 2016",
        "Projected Employment, 2026",
        "Change, 2016-26 Percent",
        "Employment by Industry Numeric",
    ]
    assert projections.cells[2:4] == ["14,300", "14,100"]


def test_a_pipe_table_copied_one_row_per_paragraph_is_one_table():
    text = (
        "Freelance rates\n\nWhat publications paid me per story, as of 2021:\n\n"
        "Publication | Rates\n\nMint Long Story | Rs 30,000 per story\n\n"
        "The Atlantic | $0.5 per word\n\nRest of World | $1.5 per word\n\n"
        "Delayed payments are a norm in the industry.\n"
    )
    g = parse_guide(text, "rates.txt")
    rows = [u for s in g.sections for u in s.units if u.kind == "table_row"]
    assert [r.cells for r in rows] == [
        ["Mint Long Story", "Rs 30,000 per story"],
        ["The Atlantic", "$0.5 per word"],
        ["Rest of World", "$1.5 per word"],
    ]
    assert all(r.columns == ["Publication", "Rates"] for r in rows)
    # A row is not a heading: the sentence after the table stays in the same section.
    after = unit_starting(g, "Delayed payments")
    assert next(s for s in g.sections if after in s.units).heading_path == ["Freelance rates"]


def test_a_chart_copied_with_pipes_under_its_heading_and_title_is_a_table_of_rows():
    """A handbook page flattened with " | " between cells, no blank lines: the "Pay" heading, the
    chart's title and its rows (no header row: every line holds a figure) are a heading, a caption
    and a table, not one run-on paragraph; a row is never a heading. A page title written with
    pipes stays the title."""
    text = (
        "Machinists | Occupational Outlook Handbook\n"
        "Machinists set up and operate machines that make precision metal parts for industry.\n\n"
        "Pay\n"
        "Median annual wages, May 2024\n"
        "Tool and die makers | $63,180\n"
        "Machinists | $56,150\n"
        "Total, all occupations | $49,500\n"
        "The median annual wage for machinists was $56,150 in May 2024.\n"
        "Percent change in employment, projected 2024-34\n"
        "Total, all occupations | 3%\n"
        "Machinists | 0%\n"
        "Tool and die makers | -11%\n"
        "Overall employment of machinists is projected to show little or no change.\n"
    )
    g = parse_guide(text, "machinist.txt")
    title = "Machinists | Occupational Outlook Handbook"
    assert g.title == title
    rows = [u for u in units(g) if u.kind == "table_row"]
    assert [u.cells for u in rows][:3] == [
        ["Tool and die makers", "$63,180"],
        ["Machinists", "$56,150"],
        ["Total, all occupations", "$49,500"],
    ]
    assert all(u.columns is None for u in rows) and len(rows) == 6
    assert [title, "Pay", "Median annual wages, May 2024"] in paths(g)
    assert not any("|" in h for path in paths(g) for h in path[1:])
    # A header row naming its columns stays the header, figures of years in its names or not; a chart
    # row with a long label stays a row; a page title with pipes and lower-case words stays the title.
    similar = parse_guide(
        "How to become a machinist | jobsite.org\n"
        "Machinists make precision metal parts on lathes and milling machines in shops.\n\n"
        "Similar Occupations\n"
        "Occupation | Job Duties | ENTRY-LEVEL EDUCATION | 2024 MEDIAN PAY\n"
        "Welders | Welders join metal parts. | High school diploma | $51,000\n"
        "Millwrights | Millwrights install machinery. | High school diploma | $63,000\n\n"
        "Employment\n"
        "Architectural, engineering, and related services | 68%\n"
        "Government | 12\n"
        "Construction | 6\n\n"
        "Projections\n"
        "Occupation | 2024 | 2034\n"
        "Welders | 418,000 | 426,000\n"
        "Millwrights | 57,000 | 60,000\n\n"
        "Job Outlook\n"
        "Total, all occupations | 3%\n"
        "Machinists | 0%\n"
        "Tool and die makers | -11%\n"
        "Overall employment of machinists is projected to show little or no change.\n\n"
        "Some shops hire apprentices straight from school and train them for four years\n"
        "Number of Jobs, 2024 | 354,800 | (BLS)\n",
        "similar.txt",
    )
    assert unit_starting(similar, "Number of Jobs, 2024 |").text == "Number of Jobs, 2024 | 354,800 | (BLS)"
    assert unit_starting(similar, "Millwrights | 57,000").columns == ["Occupation", "2024", "2034"]
    assert unit_starting(similar, "Tool and die makers | -11%").kind == "table_row"
    assert not any("|" in h for path in paths(similar) for h in path[1:])
    assert similar.title == "How to become a machinist | jobsite.org"
    # A Title Case page title with pipes over a short line, and a page that opens with a table.
    union = parse_guide(
        "Apprentices | Iron Workers Local Union No. 3 | Western PA\n"
        "Apprentices\n"
        "The apprenticeship program offered by the union helps new members learn the trade well.\n",
        "union.txt",
    )
    assert union.title == "Apprentices | Iron Workers Local Union No. 3 | Western PA"
    table_first = parse_guide(
        "Occupation | Median pay\nWelders | $51,000\nMillwrights | $63,000\n\n"
        "Welders join metal parts in factories and on construction sites every day.\n",
        "pay.txt",
    )
    assert table_first.title != "Occupation | Median pay"
    assert unit_starting(table_first, "Welders | $51,000").columns == ["Occupation", "Median pay"]
    welders = unit_starting(similar, "Welders |")
    assert welders.columns == ["Occupation", "Job Duties", "ENTRY-LEVEL EDUCATION", "2024 MEDIAN PAY"]
    assert unit_starting(similar, "Architectural, engineering").kind == "table_row"
    median = unit_starting(g, "The median annual wage for machinists")
    assert median.kind == "sentence" and "Pay" in next(s.heading_path for s in g.sections if median in s.units)


def test_a_spaced_pipe_table_stops_at_the_next_table_and_links_are_no_table():
    text = (
        "Pay by city\n\nCity | Median pay\n\nBoston | $80,000\n\nAustin | $70,000\n\n"
        "Job | Outlook\nNurse | 6%\nDoctor | 3%\n\n"
        "Nurses earn more in cities.\n\nHome | Careers | Nursing\n\nPrivacy | Terms | Contact\n\n"
        "Facebook | Twitter | LinkedIn\n"
    )
    rows = [u for s in parse_guide(text, "pay.txt").sections for u in s.units if u.kind == "table_row"]
    assert [(r.columns, r.cells[0]) for r in rows] == [
        (["City", "Median pay"], "Boston"),
        (["City", "Median pay"], "Austin"),
        (["Job", "Outlook"], "Nurse"),
        (["Job", "Outlook"], "Doctor"),
    ]


def test_list_introduced_by_a_colon_shares_its_block():
    g = shared(FOREST)
    intro = unit_starting(g, "Forest and conservation workers typically do the following:")
    item = unit_starting(g, "Plant seedlings to reforest land")
    assert intro.kind == "sentence" and item.kind == "bullet" and item.block == intro.block


def test_article_with_byline_and_faq():
    g = shared(CONTROLLER)
    title = "Financial Controller Roles, Duties, Skillset, and Career Path"
    assert g.title == title
    assert [p.question for p in g.faq] == [
        "Who Reports to the Controller?",
        "Is a Controller the Same As CFO or VP of Finance?",
        "Why Is a Controller Important?",
    ]
    assert g.faq[0].answer.startswith("A controller often oversees the department leads")
    assert [title, "Who Reports to the Controller?"] in paths(g)
    assert [title, "Controller vs. Other Financial Roles", "Controller vs. Comptroller"] in paths(g)
    assert not any("By Will Kenton" in p for p in paths(g))  # a byline is not a heading
    takeaways = next(s for s in g.sections if s.heading_path[-1] == "Key Takeaways")
    assert [u.kind for u in takeaways.units] == ["bullet"] * 3


def test_university_page_role_titles_are_sections():
    g = shared(MARKETING)
    assert g.title == "Digital Marketing"
    assert ["Digital Marketing", "Digital Broadcast Engineer"] in paths(g)
    assert ["Digital Marketing", "Social Media Analyst"] in paths(g)
    engineer = next(s for s in g.sections if s.heading_path[-1] == "Digital Broadcast Engineer")
    assert engineer.units[0].text.startswith("Digital Broadcast Engineers work primarily")


def test_markdown_guide_heading_levels_and_markup():
    g = shared(DEVOPS)
    title = "DevOps Engineer"
    assert g.title == title
    for path in [
        [title, "Role Definition & Responsibilities", "Responsibilities"],
        [title, "Getting Started", "Educational Background"],
        [title, "Getting Started", "Key Skills Required", "Technical Skills"],
        [title, "Progression Paths", "Potential Specialization Areas"],
    ]:
        assert path in paths(g)
    degrees = unit_starting(g, "Relevant Degrees:")
    assert degrees.kind == "bullet"
    assert degrees.text.startswith("**Relevant Degrees:** Bachelor's degree in Computer Science")
    assert degrees.plain.startswith("Relevant Degrees: Bachelor's degree in Computer Science")
    assert not any("**" in u.plain or "\xa0" in u.plain for u in units(g) if u.plain)
    intro, github = unit_starting(g, "Showcasing Projects:"), unit_starting(g, "GitHub: Host all project code")
    assert intro.block == github.block


def test_markdown_setext_heading_and_inline_markup():
    text = "Nurse Guide\n===========\n\nOverview\n--------\n\nNurses **care** for [patients](https://x.org).\n"
    g = parse_guide(text, "nurse.md")
    assert g.title == "Nurse Guide"
    [section] = g.sections
    assert section.heading_path == ["Nurse Guide", "Overview"]
    [unit] = section.units
    assert unit.text == "Nurses **care** for [patients](https://x.org)."
    assert unit.plain == "Nurses care for patients."
    assert text[unit.char_start : unit.char_end] == unit.text


def test_a_sentence_ending_in_a_colon_over_paragraphs_stays_a_quotable_sentence():
    """A handbook's "The work of electricians varies with the setting:" over one paragraph a kind of
    electrician introduces what follows; it is a sentence of its section, not a heading."""
    text = (
        "Electricians\n\n"
        "What Electricians Do\n\n"
        "Electricians install and maintain power systems in homes and businesses.\n"
        "The work of electricians varies with the setting:\n"
        "Residential electricians wire new homes and apartments and replace old wiring in them.\n"
        "Industrial electricians work in factories and repair motors, generators and machinery.\n"
    )
    g = parse_guide(text, "electrician.txt")
    intro = unit_starting(g, "The work of electricians varies")
    assert intro.kind == "sentence"
    assert paths(g) == [["Electricians", "What Electricians Do"]]


def test_numbered_title_case_lines_over_paragraphs_head_sections_without_blank_lines():
    """A listicle flattened without blank lines ("1. Get Proper Certification and Training" over its
    paragraph) has a section a step, as it has with blank lines; numbered lines after a list
    introduction, one under the other, stay that list."""
    text = (
        "How to Build a Massage Career\n"
        "The industry offers tremendous opportunities for skilled professionals in many regions.\n"
        "1. Get Proper Certification and Training\n"
        "Professional certification is your foundation. Clients increasingly demand qualified therapists.\n"
        "2. Build Your Professional Profile\n"
        "Your online presence is your digital storefront. Platforms let therapists showcase their skills.\n"
        "Bring these documents:\n"
        "1. Proof Of Identity\n"
        "2. Your Certificates\n"
    )
    g = parse_guide(text, "massage.txt")
    title = "How to Build a Massage Career"
    assert [title, "Get Proper Certification and Training"] in paths(g)
    assert [title, "Build Your Professional Profile"] in paths(g)
    assert [s.title for s in g.steps] == ["Get Proper Certification and Training", "Build Your Professional Profile"]
    assert unit_starting(g, "Proof Of Identity").kind == "bullet"
    # Steps after a list introduction ("... these steps:") are steps when the next number heads its
    # own paragraph too; numbered lines one under the other, or not in Title Case, stay a list.
    steps = parse_guide(
        "Becoming a Guard\n"
        "You can become a security guard by following these steps:\n"
        "1. Pass Your School Exams\n"
        "Most agencies hire people who have passed their tenth grade exams at school.\n"
        "2. Complete Security Training\n"
        "Training covers patrolling, access control and first aid over a few weeks.\n"
        "Useful extras:\n"
        "1. First Aid Card\n"
        "2. Driving Licence\n"
        "Both help you get hired faster by the larger agencies in your city.\n"
        "3. Keep your licence up to date every year\n"
        "Renew it every year with the state board so that you can keep working.\n",
        "guard.txt",
    )
    assert [s.title for s in steps.steps] == ["Pass Your School Exams", "Complete Security Training"]
    assert unit_starting(steps, "Driving Licence").kind == "bullet"
    assert unit_starting(steps, "Keep your licence up to date").kind == "bullet"  # a sentence, not Title Case


def test_a_flattened_page_saved_as_md_is_read_by_its_layout_like_a_txt_file():
    """A staff member saves a page copied as plain text with a ``.md`` ending: no ``#`` heading, no
    bold line. Read as Markdown it would be one headingless section; it gets the sections the same
    text gets as ``.txt``. A Markdown file whose layout shows no headings either stays Markdown."""
    text = (
        "How I Became a Software Tester\n\n"
        "I studied chemistry before I worked in software. Testing caught my interest at my first job.\n\n"
        "Where to start\n\n"
        "Pick one testing course and finish it. Then practise on real applications every week.\n\n"
        "What the job pays\n\n"
        "Junior testers in Poland earn around 5,000 PLN a month. Seniors earn twice that.\n"
    )
    as_md, as_txt = parse_guide(text, "tester.md"), parse_guide(text, "tester.txt")
    assert [s.heading_path for s in as_md.sections] == [s.heading_path for s in as_txt.sections]
    assert ["How I Became a Software Tester", "What the job pays"] in paths(as_md)
    # Markdown with markup but no heading stays Markdown, even when its layout has a heading-like line.
    marked = (
        "Nurse Pay in Ohio\n\nSee the [BLS data](https://bls.gov/ooh) for the details of pay.\n\n"
        "| Level | Pay |\n|---|---|\n| Junior | $60,000 |\n\nMost nurses work *long* shifts in hospitals.\n"
    )
    g = parse_guide(marked, "nurse.md")
    assert unit_starting(g, "See the").plain == "See the BLS data for the details of pay."
    assert [u.cells for u in units(g) if u.kind == "table_row"] == [["Junior", "$60,000"]]


def test_markdown_bold_question_with_its_answer_on_the_next_line_is_a_heading():
    # One paragraph to CommonMark ("**Q?**" and a soft break), an FAQ entry to a reader.
    text = (
        "# Web Developer\n\n## FAQ\n\n**Can I learn it in 3 months?**\nThe basics can be learned in three months. A first job usually takes longer.\n\n"
        "**What is the MERN stack?**\n  It is MongoDB, Express.js, React and Node.js.\n\n"
        "**Bold lead-in** with more words on the same line.\n"
    )
    g = parse_guide(text, "web.md")
    assert ["Web Developer", "FAQ", "Can I learn it in 3 months?"] in paths(g)
    mern = next(s for s in g.sections if s.heading_path[-1] == "What is the MERN stack?")
    assert mern.units[0].text == "It is MongoDB, Express.js, React and Node.js."
    assert text[mern.units[0].char_start : mern.units[0].char_end] == mern.units[0].text
    months = next(s for s in g.sections if s.heading_path[-1] == "Can I learn it in 3 months?")
    assert [u.text for u in months.units] == [
        "The basics can be learned in three months.",
        "A first job usually takes longer.",
    ]
    assert unit_starting(g, "Bold lead-in with more words").kind == "sentence"  # bold inside a line stays text
