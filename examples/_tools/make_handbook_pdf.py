"""Render the "Office and Facilities" handbook page into 08-office-and-facilities.pdf.

Dev-only helper (needs fpdf2: `.venv/bin/pip install fpdf2`); the PDF is committed, so the
project itself never runs this. Re-run after editing PAGE:

    .venv/bin/python examples/handbook/_make_pdf.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF

OUT = Path(__file__).with_name("08-office-and-facilities.pdf")

# Tiny Markdown subset: "# " title, "## " heading, "- " bullet (indented lines continue it),
# blank line ends a paragraph. Core fonts are Latin-1 only: no euro sign, no typographic
# dashes or quotes.
PAGE = """
# Office and Facilities

Our Berlin office is on the 3rd and 4th floor of Köpenicker Straße 154, 10997 Berlin. This page
explains how to get in, how to book desks and rooms, and what to do in an emergency. For anything
about the office, post in the Slack channel #office-berlin or contact the office manager
Sofia Marchetti at +49 30 5557 2188.

## Opening hours and access

The building is open from 7:00 to 21:00, Monday to Friday. You enter with your personal access
badge, which you receive on your first day. Weekend access is possible with your badge, but must
be announced in #office-berlin by Friday 15:00.

If you lose your badge, tell the office manager the same day so it can be blocked. The first
replacement badge is free; every further replacement costs EUR 25.

## Desks

The office has 80 desks and works with hot desking. Book a desk in the Deskbird app, at the latest
by 18:00 on the day before. On Wednesdays (Office Day) each team has reserved team areas. Please
clear your desk at the end of the day; lockers for personal items are on both floors.

The 4th floor is a quiet zone: no phone calls and no video calls at the desks. Use one of the
phone booths instead.

## Meeting rooms

There are 8 meeting rooms and 6 phone booths. Meeting rooms are booked through Google Calendar.
The largest meeting room, Spree, seats 20 people and is used for all-hands meetings. Release a
booked room in Google Calendar if you no longer need it.

## Guests

Register every guest in Envoy at least 24 hours in advance. Guests sign in at the reception on the
3rd floor, receive a visitor badge and must be accompanied by their host at all times. Guests can
use the Lumora-Guest Wi-Fi.

## Kitchen and food

- Coffee, tea, water and soft drinks are free.
- Fresh fruit is delivered every Monday and Thursday.
- Breakfast is served every Wednesday (Office Day) from 9:00 to 10:30.
- Please put your dishes into the dishwasher. The kitchen duty rotation is posted in
  #office-berlin.

## Bikes, parking and showers

Bike storage is in the courtyard, with 40 spaces. Showers and changing rooms are on the 3rd floor.
Lumora has no car parking spaces; please use public transport, which is covered by the
Deutschlandticket.

## Dogs

Dogs are allowed on the 3rd floor only, with at most 2 dogs in the office per day. Register your
dog in #office-berlin the day before. Dogs are not allowed in the kitchen or in meeting rooms.

## Printing

The printer is on the 3rd floor next to the kitchen. Print jobs are released by holding your
access badge to the printer. Print double-sided and in black and white by default.

## Lost and found

Lost and found is at the reception on the 3rd floor. Items are kept for one month and then
donated.

## Safety and emergencies

Each floor has a trained fire warden and a first-aid kit in the kitchen. In case of fire, leave the
building by the stairs, never the lift, and go to the assembly point at the street corner in front
of the building. A fire drill takes place twice a year. For a medical emergency, call 112 first
and then inform the office manager.

## Facility problems

Report broken equipment, heating problems or cleaning issues in #office-berlin. The office team
answers within one working day.
"""


def blocks(text: str) -> list[tuple[str, str]]:
    """Split PAGE into (style, text) blocks: h1, h2, li or p."""
    out: list[tuple[str, str]] = []
    for line in text.strip().splitlines():
        if not line.strip():
            out.append(("", ""))
        elif line.startswith("## "):
            out.append(("h2", line[3:]))
        elif line.startswith("# "):
            out.append(("h1", line[2:]))
        elif line.startswith("- "):
            out.append(("li", line[2:]))
        elif out and out[-1][0] in ("p", "li"):  # continuation line
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
        else:
            out.append(("p", line.strip()))
    return [b for b in out if b[0]]


def build(path: Path = OUT) -> Path:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))  # reproducible bytes
    pdf.set_title("Office and Facilities - Lumora Systems Employee Handbook")
    pdf.set_author("Lumora Systems GmbH")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    for style, text in blocks(PAGE):
        if style == "h1":
            pdf.set_font("Helvetica", "B", 20)
            pdf.multi_cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif style == "h2":
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 14)
            pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        elif style == "li":
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, "- " + text, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(path))
    return path


if __name__ == "__main__":
    out = build()
    print(f"wrote {out} ({out.stat().st_size} bytes)")
