"""Specifications for document text: chunks hold the words a reader sees, and units follow sentences.

The Markdown snippets come from the TTS Handbook (public domain), hard-wrapped at 80 columns as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import UnreadableFile
from connectors.documents import DocumentConnector
from ftbot.records import RawRecord
from ftbot.retrieval import split_units

LEAVING_TTS = """---
title: Leaving TTS & Offboarding
keywords: quit, quitting, resign, terming out
cSpell: ignore EEX
redirect_from:
  - /leaving-tts/
---

This guide covers the offboarding policy and process.

## When it's time to leave TTS

### 3. Review your benefits

- Ensure your home address is correct in
  [Employee Express](https://www.employeeexpress.gov/) and consider switching
  your W2 delivery to Hard Copy.
  - _Note:_ Ensure you keep your login information for Employee Express after
    you leave. Separated employees retain access to Employee Express (EEX) for 3
    years, so long as they retain their login ID and password. Separated
    employees who lose access to EEX cannot regain it.
- Review the
  [FERS refund information](https://docs.google.com/document/d/1TiFdQ/edit)
  and [Form SF 3106](https://www.opm.gov/forms/pdf_fill/sf3106.pdf) before your
  last day.
"""

FSA = """## Flexible spending accounts

[Flexible spending accounts](https://www.opm.gov/healthcare-insurance/flexible-spending-accounts/)
(FSA) allow you to pay for
[eligible out-of-pocket health care and dependent care expenses](https://www.fsafeds.com/support/eligibleexpenses)
with pre-tax dollars. They cannot be used to pay any type of premium, and you
must use all the money in your account by the end of the year or you risk
forfeiture of the unused funds.
"""


def _chunks(name: str, text: str) -> list[RawRecord]:
    items = list(DocumentConnector().read(Path(name), text.encode()))
    assert all(isinstance(item, RawRecord) for item in items)
    return items  # type: ignore[return-value]


def _units(name: str, text: str) -> list[str]:
    return [unit for chunk in _chunks(name, text) for unit in split_units(chunk.retrieval_text(), "chunk")]


def test_when_a_page_has_front_matter_then_it_is_not_content_and_its_title_heads_the_sections():
    chunks = _chunks("leaving-tts.md", LEAVING_TTS)

    assert [chunk.title for chunk in chunks] == [
        "Leaving TTS & Offboarding",
        "Leaving TTS & Offboarding > When it's time to leave TTS > 3. Review your benefits",
    ]
    assert chunks[0].text == "This guide covers the offboarding policy and process."
    assert not any(word in chunk.text for chunk in chunks for word in ("keywords", "cSpell", "---", "/leaving-tts/"))


def test_when_a_page_has_only_front_matter_then_the_file_is_unreadable():
    with pytest.raises(UnreadableFile, match="no text"):
        _chunks("org-chart.md", "---\ntitle: TTS org chart\nredirect_to: https://docs.google.com/x\n---\n")


def test_when_a_page_has_a_heading_and_front_matter_then_the_heading_is_the_title():
    [chunk] = _chunks("page.md", "---\ntitle: Front matter title\n---\n# Leave\nTake it.\n")

    assert chunk.title == "Leave"


def test_when_a_paragraph_is_hard_wrapped_then_its_sentence_is_one_unit_ending_at_its_end():
    units = _units("benefits.md", FSA)

    assert units[0] == (
        "Flexible spending accounts (FSA) allow you to pay for eligible out-of-pocket health care and "
        "dependent care expenses with pre-tax dollars."
    )


def test_when_list_items_are_hard_wrapped_then_each_item_is_one_line_and_nesting_is_kept():
    [_, benefits] = _chunks("leaving-tts.md", LEAVING_TTS)

    assert benefits.text.splitlines() == [
        "- Ensure your home address is correct in Employee Express and consider switching your W2 delivery to "
        "Hard Copy.",
        "  - Note: Ensure you keep your login information for Employee Express after you leave. Separated "
        "employees retain access to Employee Express (EEX) for 3 years, so long as they retain their login ID "
        "and password. Separated employees who lose access to EEX cannot regain it.",
        "- Review the FERS refund information and Form SF 3106 before your last day.",
    ]
    assert (
        "Separated employees retain access to Employee Express (EEX) for 3 years, so long as they retain their "
        "login ID and password."
    ) in _units("leaving-tts.md", LEAVING_TTS)


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        (
            'If you received [Award Leave]({% page "/travel-and-leave/leave/#award-leave" %}) from your review.',
            "If you received Award Leave from your review.",
        ),
        ("![an ocelot](_img/ocelot.png) Ocelots are cats.", "Ocelots are cats."),
        (
            "Check <https://www.employeeexpress.gov> or mail <tts@gsa.gov>.",
            "Check https://www.employeeexpress.gov or mail tts@gsa.gov.",
        ),
        (
            'You can [book flights][travel-guide-2] in Concur.\n\n[travel-guide-2]: {% page "/x/" %}',
            "You can book flights in Concur.",
        ),
        (
            "**Begin this process** at least _two weeks_ before, *not* later: `snake_case` and file_name_here.",
            "Begin this process at least two weeks before, not later: snake_case and file_name_here.",
        ),
        (
            'Use this <a href="https://x">leave comparison chart</a>.<br>Thanks <!-- TODO: link --> all.',
            "Use this leave comparison chart. Thanks all.",
        ),
        (
            'Ask in {% slack_channel "people-ops" %}.{% comment %}TODO link{% endcomment %} {{ site.baseurl }}',
            "Ask in #people-ops.",
        ),
        ('{% raw %}{% image "_img/ocelot.png"\n  "ocelot" %}{% endraw %}Text stays.', "Text stays."),
        (r"Write \[ requestor_name \], 9\-5, not \*approx\*.", "Write [ requestor_name ], 9-5, not *approx*."),
        ("* one\n+ two\n1. three", "- one\n- two\n1. three"),
        (
            "| Benefit | Link |\n| --- | --- |\n| Leave and Earnings Statement | <https://www.employeeexpress.gov> |",
            "- Benefit: Leave and Earnings Statement; Link: https://www.employeeexpress.gov",
        ),
        (
            '<table><tr><td class="col-key"><strong>Location</strong></td>\n<td>230 S. Dearborn St.,<br />\n'
            "Chicago, IL 60604</td></tr></table>",
            "- Location: 230 S. Dearborn St., Chicago, IL 60604",
        ),
        ("Hi <supervisor name>,\n\n---\n\n> Quoted policy\n> text.", "Hi <supervisor name>,\n\nQuoted policy text."),
    ],
    ids=[
        "link-with-liquid-target",
        "image",
        "autolinks",
        "reference-link",
        "emphasis-not-snake-case",
        "html-and-comment",
        "liquid-tags",
        "liquid-raw",
        "escapes",
        "bullets",
        "markdown-table",
        "html-table",
        "placeholder-rule-quote",
    ],
)
def test_when_markdown_has_inline_syntax_then_the_chunk_holds_the_rendered_words(markdown: str, text: str):
    [chunk] = _chunks("page.md", markdown)

    assert chunk.text == text


def test_when_headings_go_deeper_than_three_levels_then_they_join_the_title_path_not_the_body():
    page = "# Leave\n## Before you go\n#### Taking time off\nWork the last day.\n##### Award leave\nUse it.\n"

    chunks = _chunks("leave.md", page)

    assert [(chunk.title, chunk.text) for chunk in chunks] == [
        ("Leave > Before you go > Taking time off", "Work the last day."),
        ("Leave > Before you go > Taking time off > Award leave", "Use it."),
    ]


def test_when_a_heading_is_underlined_or_has_an_id_then_it_is_a_heading_too():
    chunks = _chunks("page.md", "Set up {#set-up}\n========\nFirst.\n\nDiscovery\n---------\nThen.\n")

    assert [(chunk.title, chunk.text) for chunk in chunks] == [("Set up", "First."), ("Set up > Discovery", "Then.")]


def test_when_a_plain_text_file_is_hard_wrapped_then_its_paragraphs_are_unwrapped():
    [chunk] = _chunks(
        "guide.txt", "Separated employees retain access for 3\nyears.\n\nOn day one you get:\n- a laptop\n"
    )

    assert chunk.text == "Separated employees retain access for 3 years.\n\nOn day one you get:\n- a laptop"


def test_when_html_has_an_inline_link_then_the_paragraph_keeps_its_words_in_order():
    [chunk] = _chunks("it.html", "<h1>IT</h1><p>Fill out\n   <a href='x'>the form</a> today.</p>")

    assert (chunk.title, chunk.text) == ("IT", "Fill out the form today.")


def test_when_stored_text_is_hard_wrapped_then_units_still_follow_sentences():
    stored = (
        "Leaving TTS > Review your benefits\n"
        "  - _Note:_ Ensure you keep your login information for Employee Express after\n"
        "    you leave. Separated employees retain access to Employee Express (EEX) for 3\n"
        "    years, so long as they retain their login ID and password.\n"
        "- Check your leave balances\n"
        "##### Award leave\n"
        "It will not be paid out"
    )

    assert split_units(stored, "chunk") == [
        "_Note:_ Ensure you keep your login information for Employee Express after you leave.",
        "Separated employees retain access to Employee Express (EEX) for 3 years, so long as they retain their "
        "login ID and password.",
        "Check your leave balances",
        "It will not be paid out",
    ]  # "Award leave" is a unit too, but under 15 characters


@pytest.mark.parametrize(
    "sentence",
    [
        "Bring an ID, e.g. Your passport or a REAL ID card.",
        "Use the chart, i.e. The one PeopleOps shares in Slack.",
        "Most U.S. Government travel is booked in Concur.",
        "Ask Dr. Smith at the health unit for a flu shot.",
        "Fill in Standard Form No. 71 to request the leave.",
        "Employees earn 6.5 hours of leave per pay period.",
        "The approver will sign, etc. and then send it on.",
    ],
    ids=["e.g.", "i.e.", "U.S.", "Dr.", "No.", "decimal", "lowercase-after"],
)
def test_when_a_sentence_holds_an_abbreviation_or_a_decimal_then_it_stays_one_unit(sentence: str):
    assert split_units(f"Leave\n{sentence} Then a second sentence follows.", "chunk") == [
        sentence,
        "Then a second sentence follows.",
    ]


def test_when_paragraphs_or_list_items_lack_a_full_stop_then_they_are_units_of_their_own():
    text = (
        "Offices\nWashington, D.C. office guide\n\nFind yours below:\n- Chicago office on floor 35\n- New York office"
    )

    assert split_units(text, "chunk") == [
        "Washington, D.C. office guide",
        "Find yours below:",
        "Chicago office on floor 35",
        "New York office",
    ]


def test_when_a_record_is_a_qa_pair_or_chat_then_its_units_are_unchanged():
    assert split_units("Q: How many days?\nA: 28 days\nper year.", "qa") == ["Q: How many days?\nA: 28 days\nper year."]
    assert split_units("Customer: hi\nAgent: Reset it in Okta.", "chat") == ["Agent: Reset it in Okta."]
