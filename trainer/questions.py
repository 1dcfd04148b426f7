"""Questions made from a document's sentences, without a model: the training data that teaches reading.

A company's handbook answers hundreds of questions nobody wrote down. Each fact-bearing sentence becomes a
question whose answer is that sentence (retrieval-augmented fine-tuning, RAFT: the sentence is then trained
among retrieved distractors). The questions are templates over the sentence's own structure:

- the value it holds, asked for where it stands (an echo question): "You get 12 weeks of paid leave." →
  "I get how many weeks of paid leave?"; amounts, durations and counts, dates, channels, e-mail addresses;
- what it obliges or allows: "You must submit the form within 30 days." → "Must I submit the form within 30
  days?"; "Employees can telework up to 2 days." → "Can employees telework up to 2 days?";
- what it defines: "The Voluntary Leave Transfer Program lets ..." → "What is the Voluntary Leave Transfer Program?";
- and, for every sentence, a short keyword question such as people type in Slack, with its section's name:
  "paid parental leave: approval before use?".

They are not fluent paraphrases; they teach the model to find the sentence that answers and say it, which is
what the base model gets wrong (it reads a neighbouring sentence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|sixty|ninety"
_TIME_UNITS = r"(?:business |calendar |working )?(?:minutes?|hours?|days?|weeks?|months?|years?|pay periods?)"
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"

_MONEY = r"(?:US)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|million|billion))?|\b\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b)"
_DURATION = rf"\b(?:\d[\d,.]*|{_NUMBER_WORDS})(?:[\s-]+to[\s-]+(?:\d+|{_NUMBER_WORDS}))?[\s-]+({_TIME_UNITS})\b"
_DATE = (
    rf"\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,\s*\d{{4}})?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b"
)
# (what the value looks like, how a question asks for it); the first that matches a sentence is asked.
_VALUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(_MONEY), "how much"),
    (re.compile(_DURATION, re.IGNORECASE), "how many {unit}"),
    (re.compile(_DATE), "on what date"),
    (re.compile(r"(?<![\w/&#])#[a-z0-9][\w-]+"), "which Slack channel"),
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"), "which e-mail address"),
    (re.compile(rf"\b\d[\d,]*\s+(?!{_TIME_UNITS}\b)([a-z]+s)\b"), "how many {unit}"),
)
_MODAL = re.compile(
    r"^(?P<subject>you|employees|staff|everyone|supervisors|managers|new hires|travelers|contractors|"
    r"team members|[A-Z][\w-]* (?:employees|staff|members))\s+"
    r"(?P<modal>must|should|need to|have to|are required to|can|cannot|can't|may|will need to|are expected to|"
    r"are eligible for|are entitled to)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_MODAL_QUESTION = {
    "must": "Must {s} {r}?",
    "should": "Should {s} {r}?",
    "need to": "Do {s} need to {r}?",
    "have to": "Do {s} have to {r}?",
    "are required to": "Are {s} required to {r}?",
    "can": "Can {s} {r}?",
    "cannot": "Can {s} {r}?",
    "can't": "Can {s} {r}?",
    "may": "May {s} {r}?",
    "will need to": "Will {s} need to {r}?",
    "are expected to": "Are {s} expected to {r}?",
    "are eligible for": "Are {s} eligible for {r}?",
    "are entitled to": "What are {s} entitled to?",
}
_DEFINITION = re.compile(
    r"^(?:The |An? )?(?P<term>[A-Z][\w'()&/-]*(?: [\w'()&/-]+){0,6}?)"
    r" (?:is|are|means|refers to) (?:a|an|the|our|your)\b"
)
_PRONOUNS = (
    (r"\byou are\b", "I am"),
    (r"\byou're\b", "I'm"),
    (r"\byou've\b", "I've"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
    (r"\byou\b", "I"),
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]+")
_KEYWORD_STOPWORDS = frozenset(
    re.findall(
        r"[\w']+",
        "a about above after all also an and any are as at be been before being but by can could do does each for"
        " from had has have how if in into is it its may more most must need no not of on once only or other our out"
        " over own same should so some such than that the their them then there these they this those through to too"
        " under until up very was we were what when where which while who will with would you your yours i my me"
        " please also just like get gets got use used using make made",
    )
)
MIN_SENTENCE_CHARS = 40
MAX_SENTENCE_CHARS = 400


@dataclass(frozen=True)
class DocumentQuestion:
    question: str
    answer: str  # the sentence it was made from
    template: str  # "value", "modal", "definition", "keywords": which template made it


def is_fact_bearing(sentence: str) -> bool:
    """A sentence worth a question: long enough to state something, short enough to be one statement, not a
    question itself, and not a list of links or a heading."""
    text = sentence.strip()
    if not MIN_SENTENCE_CHARS <= len(text) <= MAX_SENTENCE_CHARS or text.endswith("?"):
        return False
    if not (text[0].isupper() or text[0].isdigit()) or not text.rstrip(")\"'”’").endswith((".", "!")):
        return False  # a fragment (a line of a hard-wrapped paragraph, a list item's tail), not a statement
    words = _WORD.findall(text)
    return len(words) >= 6 and sum(word[0].isupper() for word in words) <= len(words) * 0.6


def questions_for(sentence: str, section: str) -> list[DocumentQuestion]:
    """The questions a fact-bearing sentence answers (none for other sentences), most specific first."""
    text = " ".join(sentence.split())
    if not is_fact_bearing(text):
        return []
    made: list[DocumentQuestion] = []
    for template, question in (
        ("value", _value_question(text)),
        ("modal", _modal_question(text)),
        ("definition", _definition_question(text)),
        ("keywords", _keyword_question(text, section)),
    ):
        if question and question.lower() != text.lower():
            made.append(DocumentQuestion(question, text, template))
    return made


def _value_question(text: str) -> str | None:
    """The sentence with its value replaced by what asks for it, in the asker's voice (an echo question)."""
    for pattern, asks in _VALUES:
        match = pattern.search(text)
        if match is None:
            continue
        unit = match.group(1) if match.groups() and match.group(1) else ""
        wh = asks.format(unit=_plural(unit.lower())) if "{unit}" in asks else asks
        start, end = match.span()
        before, after = text[:start].rstrip(), text[end:].lstrip()
        question = f"{before} {wh} {after}"  # "for 3 years" → "for how many years"
        return _as_question(_clause(question, wh))
    return None


def _clause(text: str, anchor: str) -> str:
    """The clause of `text` around `anchor`: long sentences keep only the part that holds the question."""
    parts = re.split(r"(?<=[;:])\s+|,\s+(?=(?:and|but|or|which|while|so)\b)", text)
    for part in parts:
        if anchor in part:
            return part
    return text


def _modal_question(text: str) -> str | None:
    match = _MODAL.match(text.rstrip(".!"))
    if match is None:
        return None
    subject = match["subject"]
    subject = "I" if subject.lower() == "you" else subject[0].lower() + subject[1:]
    rest = _first_person(match["rest"]) if subject == "I" else match["rest"]
    template = _MODAL_QUESTION[match["modal"].lower()]
    question = template.format(s=subject, r=_clause(rest, rest.split(" ")[0]))
    question = re.sub(r"\b(Are|are) I\b", lambda m: "Am I" if m[1] == "Are" else "am I", question)
    return question[0].upper() + question[1:]


def _definition_question(text: str) -> str | None:
    match = _DEFINITION.match(text)
    if match is None or len(match["term"].split()) < 1 or match["term"].lower() in ("this", "it", "that", "there"):
        return None
    return f"What is {('the ' if text.startswith('The ') else '')}{match['term']}?"


def _keyword_question(text: str, section: str) -> str | None:
    """Short, like a Slack message: the section's name and the sentence's own content words."""
    words = [w for w in _WORD.findall(text) if w.lower() not in _KEYWORD_STOPWORDS]
    if len(words) < 2:
        return None
    topic = section.split(" > ")[-1].strip().rstrip(".:?")
    keywords = " ".join(words[:6])
    if topic and topic.lower() not in keywords.lower():
        return f"{topic}: {keywords.lower()}?"
    return f"{keywords.lower()}?"


def _first_person(text: str) -> str:
    for pattern, replacement in _PRONOUNS:
        text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    return text


def _as_question(text: str) -> str:
    text = _first_person(" ".join(text.split()).rstrip(" .!;:,"))
    text = re.sub(r"\bI am\b", "I am", text)
    return text[0].upper() + text[1:] + "?"


def _plural(unit: str) -> str:
    unit = unit.strip()
    if not unit:
        return "of them"
    return unit if unit.endswith("s") else unit + "s"
