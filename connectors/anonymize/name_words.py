"""Whether the words of a span read as a person's name: word shape, the English dictionary, given and tool names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from spacy.lang.de.stop_words import STOP_WORDS as GERMAN_STOP_WORDS
from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH_STOP_WORDS
from spacy.language import Language
from spacy.lookups import Lookups


def _words(text: str) -> frozenset[str]:
    # The word lists below are written as text, many to a line.
    return frozenset(text.split())


# Given names, lowercase, from many languages. Most names are in no dictionary and need no list; this one is
# for those that are also words or famous surnames there ("Sam", "Herbert", "Rose", "Anna"), so that
# "Sally Smith" stays a person although both of its words are English words.
GIVEN_NAMES = _words(
    """
    aaron abby abdul abigail adam adrian agnes ahmed aidan aiden aisha al alan albert alberto alex alexander
    alexandra alexis alfred alice alicia alison allison amanda amber amelia amina amir amit amy ana andre andrea
    andreas andrew andy angel angela angelica angie anita ann anna anne annie anthony antonio april archie arjun
    arthur ashley audrey august austin ava barbara barry beatrice beatriz becky ben benjamin bernard beth betty
    bill billy blake bob bobby bonnie brad brandon brenda brett brian bridget brooke bruce bryan bud caleb calvin
    cameron camila candice carl carla carlos carmen carol caroline carolyn carter casey catherine cecilia chad
    charles charlie charlotte chase chelsea cheryl chloe chris christian christina christine christopher cindy
    claire clara clark claudia clay cliff clifford clint clinton cody colin connie connor craig crystal curtis
    cynthia daisy dale dan dana daniel daniela danielle danny darren dave david dawn dean deborah debra denise
    dennis derek diana diane diego dominic don donald donna doris dorothy doug douglas drew duncan dylan earl
    ed eddie edgar edith edward eileen elaine eleanor elena eli elif elijah elizabeth ella ellen elliot emily
    emma eric erica erik erin ernest esther ethan eugene eva evan faith fatima felix fernando fiona florence
    frances francis frank fred freddie frederick gabriel gabriela gail gary gavin gene george georgia gerald
    gina glen glenn gloria gordon grace graham grant greg gregory guy hannah harold harper harriet harry hazel
    heather heidi helen henry herbert holly hope howard hugh hugo ian irene iris isaac isabel isabella ivan ivy
    jack jackie jacob jade james jamie jan jane janet janice jared jasmine jason jay jean jeff jeffrey jennifer
    jenny jeremy jerome jerry jesse jessica jill jim jimmy jo joan joanna jodi joe joel john johnny jon jonathan
    jordan jorge jose joseph josephine josh joshua joy joyce juan judith judy julia julian julie june justin
    karen karl kate katherine kathleen kathy katie kay keith kelly ken kenneth kevin kim kimberly kirk kyle
    lance larry laura lauren laurie lawrence leah lee leo leon leonard leslie lewis liam lillian lily linda
    lisa lloyd logan lois lorraine louis louise lucas lucy luis luke lynn madison maggie malcolm mandy manuel
    marcia marco marcus margaret maria marian marie marilyn mario marion mark martha martin marvin mary mason
    matt matthew maureen max megan melanie melissa melody mia michael michelle miguel mike miles mildred
    mitchell mohamed mohammed molly monica morgan muhammad nadia nancy naomi natalie nathan neil nicholas
    nicole nina noah norman oliver olivia omar oscar owen paige pamela pat patricia patrick paul paula pearl
    peggy penny peter phil philip phillip phyllis pierre priya rachel rafael ralph ramon randy ray raymond
    rebecca regina rene rhonda ricardo richard rick ricky rita rob robert roberta robin rodney roger ronald
    ronnie rosa rose rosemary ross roy ruby russell ruth ryan sabrina sally sam samantha samuel sandra sara
    sarah scott sean sergio seth shane shannon sharon shawn sheila shirley sidney simon sofia sophia sophie
    stacy stanley stella stephanie stephen steve steven stuart sue summer susan suzanne sylvia tammy tanya
    tara ted teresa terry theodore theresa thomas tiffany tim timothy tina todd tom tommy tony tracy travis
    trevor troy tyler valerie vanessa vera vernon veronica vicki victor victoria vincent violet virginia
    wade walter wanda warren wayne wendy wesley will william willie wilma xavier yolanda yvonne zach zachary
    zoe
    achim andrzej anja annika antje axel bernd birgit bjorn björn brigitte carsten christoph claus dagmar
    dieter dirk elke erika ernst franz friedrich fritz gabriele gerhard gisela gudrun gunter günter hans
    heike heinz helga helmut horst ilse ingrid inge jan jens joachim jörg jürgen karin katrin klaus kurt lars
    lena lukas manfred marta matthias mehmet monika nils olaf otto petra rainer ralf renate rolf sabine sandra
    silke sven thorsten tobias torsten ulrich ursula uwe volker walther werner wolfgang
    alejandro alvaro andres beatriz carolina cristina diego enrique esteban francisco gonzalo ignacio javier
    joao joão lucia luciana marisol mateo pablo paulo pedro raul rodrigo santiago sergio ximena
    abhishek aditi amit ananya anika anil anjali arun deepak divya ganesh gita kavya krishna lakshmi manoj
    meera neha nikhil pooja priyanka rahul raj rajesh ravi rohan sanjay shreya sunil vijay vikram
    amelie clara emil emilia finn franziska frieda greta hanna ida jakob jana jannik johanna jonas julian kai
    katharina kerstin lara lea leonie lina luisa maja marie markus maximilian moritz nadine nele niklas nico
    paula philipp sebastian simone stefan stefanie susanne tanja theo timo
    ali amir fatma hassan hussein ibrahim karim khalid layla leila mariam mustafa omar rashid samir tariq yusuf
    zainab zeynep ayse ayşe emre
    aiko chen hiro hiroshi kenji li mei ming wei xiao yuki yusuke jin min seo
    ade chidi kofi kwame ngozi oluwaseun tunde
    agnieszka anastasia dmitri ivan katarzyna natalia olga pavel sergei tatiana vladimir wojciech
    """
)

# Software, services and platforms that name-recognition models take for people. Lowercase; a word of a span
# that is one of these is no part of a name ("Ask Kandji", "Linux Foundation").
TOOL_NAMES = _words(
    """
    airtable android asana atlassian aws azure bitbucket bitwarden box calendly canva chrome chromebook citrix
    cloudflare confluence datadog debian discord django docker dropbox drupal excel facebook fedora figma figjam
    firebase firefox gchat github gitlab gmail google grafana hangouts heroku hubspot icloud instagram intune
    ios ipad iphone jamf javascript jekyll jira kandji keepass kubernetes lastpass linkedin linux loom looker
    mac macbook macos mailchimp markdown mattermost mongodb mural mysql netlify nginx notion okta onedrive onelogin
    outlook pagerduty postgres postgresql powerpoint python qualtrics redis safari salesforce servicenow
    sharepoint skype slack snyk splunk sql sqlite squarespace surveymonkey tableau tailscale terraform trello
    twitter typeform typescript ubuntu vercel visio vmware webex whatsapp windows wordpress workday xcode
    youtube yubikey zendesk zoom zscaler
    """
)

# Words of today's workplace that WordNet, the dictionary of english_dictionary, is too old to have.
WORKPLACE_WORDS = _words(
    """
    admin api app async backend blog blogpost bluetooth changelog chatbot checkbox codebase config coworker
    dashboard deliverable devops dropdown email emoji frontend greybox hashtag homepage hotspot inbox laptop
    livestream login logout mentee metadata microservice navbar oauth offboarding offsite onboarding onsite
    passcode password playbook plugin podcast readme recap repo retro roadmap runbook screenshot sdk sidebar
    signup skillset shortcode smartphone spreadsheet standup startup telework teleworking timesheet toolbar
    toolkit tooltip upskilling url username webinar webpage website wifi wiki workflow
    """
)

# First and last names that are also everyday words. In lowercase they are read as the word, and even
# capitalized they are no name where spaCy reads them as a verb ("Will the export ...", "Mark the ticket").
NAME_WORDS = _words(
    """
    will mark grace rose bill frank hope summer faith joy sunny may june april august art bob pat rich chase
    drew grant hunter lane page rock ray max miles young king long baker miller fox wolf fuchs koch bauer becker
    fischer vogel weiß weiss klein lang hahn winter sommer schön frei ruby pearl amber crystal ivy holly iris
    daisy lily violet jade dawn heather hazel robin angel clay cliff dale glen guy jack lance penny rob sue
    """
)
COMMON_WORDS = frozenset(ENGLISH_STOP_WORDS | GERMAN_STOP_WORDS | NAME_WORDS)

# The English model reads capitalized German nouns as names; these are the ones every German ticket or
# letter has (its header, greeting and sign-off), plus the addressees of a greeting ("Hi team").
NOT_NAMES = _words(
    """
    betreff grüße grüßen gruß rechnung rechnungen konto kunde kundin anfrage telefon tel fax mobil handy ruf
    hallo danke bitte lieferung bestellung adresse anschrift name vorname nachname datum uhr frau herr team all
    everyone folks there guys zusammen leute kollegen
    """
)
# German noun endings no first or last name has ("Rechnung", "Möglichkeit", "Kundennummer").
_GERMAN_NOUN_ENDINGS = ("ung", "ungen", "heit", "keit", "schaft", "nummer", "tät", "ismus", "ierung")
_LONGEST_NAME_WORD = 15  # "Rentenversicherungsnummer" is German; "Schwarzenegger" (14) is a name

# English determiners and possessives: "the Tock report", "a Likert scale", "your Mac" name no one.
DETERMINERS = _words("the a an this that these those our your their its my his every each any no")

_PREFIXES = ("micro", "macro", "multi", "non", "off", "on", "out", "over", "pre", "re", "de", "sub", "super", "un")
_SUFFIXES = (
    ("isation", "ise"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ation", ""),
    ("ings", ""),
    ("ing", ""),
    ("ing", "e"),
    ("ies", "y"),
    ("ees", ""),
    ("ee", ""),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
)
_SHORTEST_STEM = 3  # of an inflected word ("tips"); of a prefixed one, one more ("rewrite", not "Reyes")
# A capitalized word as names are written: "Anna", "O'Brien", "McAllister", "DeShawn", "Kaplan-Moss".
# Capitals inside a word otherwise mark a product or an acronym: "GitHub", "KeePassXC", "BookIT", "FedRAMP".
_NAME_SHAPE = re.compile(r"(?:Mc|Mac|O['’]|D['’]|De|Di|Da|Du|La|Le|Van|Von)?[A-ZÀ-ÖØ-Þ][^\W\d_A-ZÀ-ÖØ-Þ]*['’]?")
_NAME_WORD_SHAPE = re.compile(rf"{_NAME_SHAPE.pattern}(?:-{_NAME_SHAPE.pattern})*(?:['’]s?)?")


def english_dictionary(nlp: Language) -> frozenset[str]:
    """The lemmas of the pipeline's rule lemmatizer tables (WordNet's words), lowercase; empty if it has none."""
    # The tables ship with en_core_web_* whether or not the lemmatizer runs; load_ner_pipeline excludes it.
    path = Path(nlp.path) / "lemmatizer" / "lookups" if nlp.path is not None else None
    if path is None or not path.exists():
        return frozenset()
    lookups = Lookups().from_disk(path)
    if not lookups.has_table("lemma_index"):
        return frozenset()
    lemmas = (word for words in lookups.get_table("lemma_index").values() for word in words)
    return frozenset(lemmas) | WORKPLACE_WORDS


def is_english_word(word: str, dictionary: frozenset[str]) -> bool:
    """Whether `word` (any case, possessive or not) is in `dictionary`, inflected or with a common prefix."""
    lower = re.sub(r"['’]s?$", "", word.lower())
    return _in(lower, dictionary) or any(
        lower.startswith(prefix) and len(lower) - len(prefix) > _SHORTEST_STEM and _in(lower[len(prefix) :], dictionary)
        for prefix in _PREFIXES
    )


def _in(word: str, dictionary: frozenset[str]) -> bool:
    if word in dictionary:
        return True
    return any(
        word.endswith(suffix)
        and len(word) - len(suffix) + len(ending) >= _SHORTEST_STEM
        and word[: len(word) - len(suffix)] + ending in dictionary
        for suffix, ending in _SUFFIXES
    )


def has_name_shape(word: str) -> bool:
    """Whether `word` is written as a name is: capitalized, no digits, no capitals inside but Mc-, O'-, De-..."""
    return _NAME_WORD_SHAPE.fullmatch(word) is not None


def is_tool_name(word: str) -> bool:
    """Whether `word` is a well-known software or service name ("Slack", "GitHub's", "MacBooks")."""
    lower = re.sub(r"['’]s?$", "", word.lower())
    return lower in TOOL_NAMES or (lower.endswith("s") and lower[:-1] in TOOL_NAMES)


def reads_as_name(words: Sequence[str], dictionary: frozenset[str], common_words: frozenset[str]) -> bool:
    """Whether name-shaped words, all of them, are a person's name rather than a phrase of English words.

    A name has a word no dictionary has ("Lopez", "Priya"), or a given name. A given name that is also an
    everyday word ("Mark", "Grant", `common_words`) counts only next to another word: "Mark Bauer", not "Mark".
    """
    for word in words:
        lower = re.sub(r"['’]s?$", "", word.lower())
        if len(lower) < 2:  # an initial
            continue
        if not is_english_word(word, dictionary):
            return True
        if lower in GIVEN_NAMES and (len(words) > 1 or lower not in common_words):
            return True
    return False


def could_be_name(word: str) -> bool:
    """Whether one word may be part of a person's name: capitalized, and no German function word or noun."""
    lower = word.lower().rstrip(".")
    return (
        word[:1].isupper()
        and not any(c.isdigit() for c in word)
        and lower not in GERMAN_STOP_WORDS
        and lower not in NOT_NAMES
        and len(word) <= _LONGEST_NAME_WORD
        and not (len(word) > 6 and lower.endswith(_GERMAN_NOUN_ENDINGS))
    )


_GERMAN_ONLY = GERMAN_STOP_WORDS - ENGLISH_STOP_WORDS
_ENGLISH_ONLY = ENGLISH_STOP_WORDS - GERMAN_STOP_WORDS


def looks_german(text: str) -> bool:
    """Whether a text has more German than English function words ("der", "ist", "nicht" vs "the", "is")."""
    words = [w.lower() for w in re.findall(r"[^\W\d_]+", text)]
    return sum(w in _GERMAN_ONLY for w in words) > sum(w in _ENGLISH_ONLY for w in words)
