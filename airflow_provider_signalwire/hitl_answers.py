"""
How an SMS reply answers a human-in-the-loop request: reading ``APPROVE 48213377``, and the options it names.

No I/O: the reply receiver (:mod:`airflow_provider_signalwire.webhooks.hitl_replies`) decides what a reply does.

**A reply** is an answer and a code, in either order: ``APPROVE 48213377``, ``48213377 approve``,
``approve #48213377``, ``approve: 48213377``, ``APPROVE48213377``; any case, trailing ``.!?`` ignored. It is
read after Unicode NFKC normalisation, so full-width letters and digits and superscripts read as ASCII
(full-width ``48213377`` is ``48213377``, ``²`` is ``2``), and any other script's decimal digits as ASCII digits.
The code is :data:`CODE_DIGITS` ASCII digits. The answer must look like a choice of options, not a sentence:
at most :data:`MAX_ANSWER_LENGTH` characters, each comma-separated part with a letter or digit in it, and either
only numbers (``1, 3, 4``) or at most :data:`MAX_ANSWER_WORDS` words in all (``Load anyway``, ``Approve, Hold``).
Anything else (``My order number is 48213377``, ``call me back at 5551234``) is not a reply: the receiver leaves
it alone. A short text that merely looks like one (``Order 48213377``) is read as one: without the request's
options nothing tells them apart.

**Options** are named by name (any case) or by number (``1`` is the first). The SMS lists them numbered
(``1 Load, 2 Skip, 3 Hold, 4 Ask``) when there are more than three, or when their names together are longer
than a reply's answer may be (naming them could read as a sentence); a number then picks by position first, so
``2`` is the second option even when another is named ``2``. A list that is not numbered (``2/Skip``) is answered
by name: a number picks by position only when no option is itself named by a number. With several answers
allowed, a reply's comma-separated parts each name one option, whole option names first (``Red, large`` is the
option of that name, not ``Red`` and ``large``); empty parts are ignored and an option named twice counts once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

#: Digits of a code a reply may carry.
CODE_DIGITS = (6, 10)
#: Characters an answer may have at most (the part of a reply that is not the code).
MAX_ANSWER_LENGTH = 40
#: Words an answer may have at most, all its comma-separated parts together, unless all are numbers: option
#: names are short, sentences are not.
MAX_ANSWER_WORDS = 3

_CODE = rf"[0-9]{{{CODE_DIGITS[0]},{CODE_DIGITS[1]}}}"
_BETWEEN = r"[\s#+:,.;-]*"  # what may stand between the answer and the code
_CODE_LAST = re.compile(rf"(?P<answer>.*?){_BETWEEN}(?<![0-9])(?P<code>{_CODE})")
_CODE_FIRST = re.compile(rf"#?(?P<code>{_CODE})(?![0-9]){_BETWEEN}(?P<answer>.*?)")
_TRAILING = re.compile(r"[\s.!?]+$")
_WORD_CHARACTER = re.compile(r"\w")
_AROUND_COMMAS = re.compile(r"\s*,\s*")


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def normalise(text: str) -> str:
    """``text`` after NFKC, with decimal digits of any script as ASCII and runs of white space as one space."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char for char in text)
    return " ".join(text.split())


def _looks_like_choice(answer: str) -> bool:
    """Whether ``answer`` reads as options named by number or by name, not as a sentence."""
    parts = [part.strip() for part in answer.split(",")]
    named = [part for part in parts if part]
    if not named or len(answer) > MAX_ANSWER_LENGTH or not all(_WORD_CHARACTER.search(part) for part in named):
        return False
    return all(_is_number(part) for part in named) or sum(len(part.split()) for part in named) <= MAX_ANSWER_WORDS


def parse_reply(body: str) -> tuple[str, str] | None:
    """
    ``(answer, code)`` of a reply such as ``APPROVE 48213377`` or ``2 48213377``, both normalised (see the
    module's description); ``None`` when the text is not unmistakably an answer and a code.
    """
    text = _TRAILING.sub("", normalise(body or ""))
    if len(text) > 2 * MAX_ANSWER_LENGTH + CODE_DIGITS[1]:  # far longer than an answer, a code and what is between
        return None
    for form in (_CODE_LAST, _CODE_FIRST):
        found = form.fullmatch(text)
        if found:
            answer = _TRAILING.sub("", found.group("answer")).strip()
            if _looks_like_choice(answer):
                return answer, found.group("code")
    return None


def _key(text: str) -> str:
    """How an option name compares: normalised, any case, any spacing around commas, no trailing ``.!?``."""
    return _AROUND_COMMAS.sub(",", _TRAILING.sub("", normalise(text))).casefold()


def is_numbered(options: Sequence[str]) -> bool:
    """Whether the SMS lists ``options`` numbered: more than three, or more than one reply could name at once."""
    return len(options) > 3 or not _looks_like_choice(", ".join(_TRAILING.sub("", normalise(o)) for o in options))


def options_text(options: Sequence[str]) -> str:
    """How the SMS lists the options: ``Approve/Reject``; numbered (``1 a, 2 b, 3 c, 4 d``) when :func:`is_numbered`."""
    if is_numbered(options):
        return ", ".join(f"{number} {option}" for number, option in enumerate(options, start=1))
    return "/".join(options)


def choose_options(answer: str, options: Sequence[str], multiple: bool) -> list[str] | None:
    """
    The options an answer names (see the module's description); several, separated by commas, only when
    ``multiple``. ``None`` when a part names no option, or the answer names none.
    """
    by_name: dict[str, str] = {}
    for option in options:
        by_name.setdefault(_key(option), option)  # of two options that read alike, the first listed
    numbered = is_numbered(options)
    by_position = numbered or not any(_is_number(normalise(option)) for option in options)

    def one(part: str) -> str | None:
        part = normalise(part)
        number = int(part) if _is_number(part) else None
        if numbered and number is not None:
            return options[number - 1] if 1 <= number <= len(options) else None
        if _key(part) in by_name:
            return by_name[_key(part)]
        if by_position and number is not None and 1 <= number <= len(options):
            return options[number - 1]
        return None

    if not multiple:
        only = one(answer)
        return [only] if only is not None else None
    parts = answer.split(",")
    chosen: list[str] = []
    start = 0
    while start < len(parts):
        if not parts[start].strip():
            start += 1
            continue
        # The longest run of parts that is one option's whole name, so that a name with a comma is one choice.
        found = None
        for end in range(len(parts), start, -1):
            found = one(",".join(parts[start:end]))
            if found is not None:
                break
        if found is None:
            return None
        if found not in chosen:
            chosen.append(found)
        start = end
    return chosen or None
