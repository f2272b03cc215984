"""
The default text of a human-in-the-loop SMS, made to fit one SMS segment in the encoding its characters need.

``<subject> - reply <options> + code <code> by <deadline>: <link>``. The options and the code are never cut:
they are what a reply needs. What gives, in this order, until the text is one segment
(:func:`~airflow_provider_signalwire.api.segments.count_segments`):

1. The subject is written in the GSM-7 alphabet where it has a look-alike: curly quotes as straight ones, dashes
   as ``-``, ``…`` as ``...``, accented letters GSM-7 lacks as their base letter; emoji and other symbols are
   left out. A single curly apostrophe no longer makes the whole text UCS-2 (70 characters a segment, not 160).
   Letters of a script GSM-7 lacks (Cyrillic, Greek lower case, CJK) are kept: that text is UCS-2.
2. The subject is shortened (``...``), keeping at least :data:`MIN_SUBJECT_WITH_LINK` characters.
3. The link to the request gives way to the link to Airflow's Required Actions page, which lists it
   (``https://airflow.example.com/required_actions``): a run's link is often longer than a segment leaves.
4. Then no link (keeping at least :data:`MIN_SUBJECT` characters of the subject), then no deadline.

When even that is more than one segment (options too many or too long for one), the text is the first of
them in full, with the request's link, and takes several segments.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_signalwire.api.segments import count_segments, is_gsm7

#: Characters of the subject kept at least while the text carries a link.
MIN_SUBJECT_WITH_LINK = 40
#: Characters of the subject kept at least when the link gave way (a UCS-2 text has 70 in all).
MIN_SUBJECT = 10
DEFAULT_SUBJECT = "Airflow needs an answer"

_LOOK_ALIKES = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032`\u00b4", "'"),  # curly single quotes, prime, accents
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),  # hyphens, dashes, minus
        **dict.fromkeys("\u00a0\u2002\u2003\u2007\u2009\u200a\u202f\u3000", " "),
        "…": "...",
    }
)


def gsm7_subject(subject: str) -> str:
    """``subject`` in the GSM-7 alphabet where it has look-alikes; emoji and other symbols left out."""
    kept = []
    for char in subject.translate(_LOOK_ALIKES):
        if is_gsm7(char):
            kept.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        if base and is_gsm7(base):
            kept.append(base)
        elif unicodedata.category(char)[0] in "LN":  # a letter of another script: the text will be UCS-2
            kept.append(char)
    return " ".join("".join(kept).split())


def required_actions_link(link: str) -> str:
    """Airflow's Required Actions page on the UI that ``link`` points into."""
    parts = urlsplit(link)
    return urlunsplit((parts.scheme, parts.netloc, "/required_actions", "", ""))


def _fit(subject: str, rest: str, least: int) -> str | None:
    """``subject + rest`` in one segment, the subject shortened to no fewer than ``least`` characters."""
    if count_segments(subject + rest).segments <= 1:
        return subject + rest
    for keep in range(len(subject) - 1, min(least, len(subject)) - 1, -1):
        text = subject[:keep].rstrip() + "..." + rest
        if count_segments(text).segments <= 1:
            return text
    return None


def default_hitl_body(facts: Mapping[str, Any]) -> str:
    """The SMS sent when no ``body`` is given (see the module's description)."""
    subject = gsm7_subject(str(facts.get("subject") or "")) or DEFAULT_SUBJECT
    ask = f" - reply {facts['options']} + code {facts['code']}" if facts.get("code") else " - answer in Airflow"
    by = f" by {facts['deadline']}" if facts.get("deadline") else ""
    link = str(facts["link"])
    choices = [
        (f"{ask}{by}: {link}", MIN_SUBJECT_WITH_LINK),
        (f"{ask}{by}: {required_actions_link(link)}", MIN_SUBJECT_WITH_LINK),
        (ask + by, MIN_SUBJECT),
        (ask, MIN_SUBJECT),
    ]
    for rest, least in choices:
        text = _fit(subject, rest, least)
        if text is not None:
            return text
    full, least = choices[0]
    return (subject if len(subject) <= least else subject[:least].rstrip() + "...") + full
