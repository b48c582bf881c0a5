"""Reading a stored API answer (one JSON list) record by record, in constant memory.

The notebook held the body, the parsed list and the validated list at once (1.75 GB for a
million records, measured by benchmarks/ingest.py). Here one element at a time is read out of
a sliding window over the file, by the caller's shortcut where it recognises the element and
by the standard library's C scanner otherwise; each element keeps its original text, so a
rejected record can be stored exactly as the API sent it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

_CHUNK = 1 << 20
_LONGEST_ELEMENT = 64 << 20  # characters; past this a decode error is not "needs more data"
_WHITESPACE = " \t\n\r"
_NUMBER_TAIL = "0123456789.eE+-"
_BETWEEN = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")  # the usual case between two elements


class MalformedAnswer(ValueError):
    """The answer is not one complete JSON list."""


def iter_records(
    stream: BinaryIO,
    chunk_size: int = _CHUNK,
    shortcut: Callable[[str, int], tuple[Any, int] | None] | None = None,
) -> Iterator[tuple[Any, str]]:
    """Yield `(element, element_text)` for each element of the JSON list in `stream`.

    `shortcut(text, start)` may read an element itself, returning what to yield and where
    the element ends; where it returns None the element is decoded as JSON.
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    buf, pos, eof, consumed = "", 0, False, 0

    def fill() -> bool:
        """Append the next chunk to the window; False at end of stream."""
        nonlocal buf, pos, eof, consumed
        if eof:
            return False
        data = stream.read(chunk_size)
        consumed += pos
        buf = buf[pos:] + utf8.decode(data, final=not data)
        pos = 0
        eof = not data
        return True

    def skip_whitespace() -> str:
        """Move past whitespace; the next character, or '' at end of stream."""
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            if pos < len(buf):
                return buf[pos]
            if not fill():
                return ""

    def decode() -> tuple[Any, int]:
        """The JSON element at `pos`, reading on while the window cuts it."""
        while True:
            try:
                element, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError:
                if len(buf) - pos < _LONGEST_ELEMENT and fill():
                    continue
                raise fail("truncated or invalid JSON") from None
            except ValueError:  # an integer of more than 4300 digits (sys.int_max_str_digits)
                raise fail("a number too long to read") from None
            except RecursionError:  # nesting deeper than the interpreter's recursion limit
                raise fail("nesting too deep to read") from None
            # A number cut by the window's edge decodes as a shorter number: read on.
            if (
                eof
                or type(element) not in (int, float)
                or (end < len(buf) and buf[end] not in _NUMBER_TAIL)
            ):
                return element, end
            fill()

    def fail(what: str) -> MalformedAnswer:
        return MalformedAnswer(f"{what} at character {consumed + pos}")

    try:
        first = skip_whitespace()
        if first != "[":
            found = f"starts with {first!r}" if first else "is empty"
            raise MalformedAnswer(f"the answer is not a JSON list: it {found}")
        pos += 1
        if skip_whitespace() == "]":
            pos += 1
        else:
            while True:
                element, end = (shortcut and shortcut(buf, pos)) or decode()
                yield element, buf[pos:end]
                between = _BETWEEN.match(buf, end)
                if between and between.end() < len(buf):
                    pos = between.end()
                    continue
                pos = end
                separator = skip_whitespace()
                pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    raise fail("expected ',' or ']'" if separator else "truncated JSON")
                skip_whitespace()
        if skip_whitespace():
            raise fail("unexpected data after the list")
    except UnicodeDecodeError as error:
        raise MalformedAnswer(f"the answer is not valid UTF-8: {error.reason}") from None
