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


# Reads one element itself where it can: `(what to yield, where the element ends)` or None.
Shortcut = Callable[[str, int], tuple[Any, int] | None]


class MalformedAnswer(ValueError):
    """The answer is not one complete JSON list."""


class _Window:
    """A sliding window of decoded text over the stream, and where reading stands in it.

    `text[pos:]` is what is not read yet; `consumed` counts the characters already dropped
    from the window's front, so that an error can say where in the whole answer it is.
    """

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self.stream = stream
        self.chunk_size = chunk_size
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.decoder = json.JSONDecoder()
        self.text = ""
        self.pos = 0
        self.eof = False
        self.consumed = 0

    def fill(self) -> bool:
        """Drop what is read, append the next chunk; False at end of stream."""
        if self.eof:
            return False
        data = self.stream.read(self.chunk_size)
        self.consumed += self.pos
        self.text = self.text[self.pos :] + self.utf8.decode(data, final=not data)
        self.pos = 0
        self.eof = not data
        return True

    def skip_whitespace(self) -> str:
        """Move past whitespace; the next character, or '' at end of stream."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.fill():
                return ""

    def decode(self) -> tuple[Any, int]:
        """The JSON element at `pos` and where it ends, reading on while the window cuts it."""
        while True:
            try:
                element, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if len(self.text) - self.pos < _LONGEST_ELEMENT and self.fill():
                    continue
                raise self.error("truncated or invalid JSON") from None
            except ValueError:  # an integer of more than 4300 digits (sys.int_max_str_digits)
                raise self.error("a number too long to read") from None
            except RecursionError:  # nesting deeper than the interpreter's recursion limit
                raise self.error("nesting too deep to read") from None
            # A number cut by the window's edge decodes as a shorter number: read on.
            if (
                self.eof
                or type(element) not in (int, float)
                or (end < len(self.text) and self.text[end] not in _NUMBER_TAIL)
            ):
                return element, end
            self.fill()

    def error(self, what: str) -> MalformedAnswer:
        return MalformedAnswer(f"{what} at character {self.consumed + self.pos}")

    def elements(self, shortcut: Shortcut | None) -> Iterator[tuple[Any, str, bool]]:
        """`(element, text, read_by_shortcut)` for each element of the list, then the end."""
        first = self.skip_whitespace()
        if first != "[":
            found = f"starts with {first!r}" if first else "is empty"
            raise MalformedAnswer(f"the answer is not a JSON list: it {found}")
        self.pos += 1
        if self.skip_whitespace() == "]":
            self.pos += 1
        else:
            # The loop keeps the window's text and position in locals, handing them back to
            # `self` around the slow paths: the usual element touches nothing else.
            text, pos = self.text, self.pos
            while True:
                read = shortcut(text, pos) if shortcut else None
                if read is None:
                    self.pos = pos
                    element, end = self.decode()
                    text, pos = self.text, self.pos
                else:
                    element, end = read
                yield element, text[pos:end], read is not None
                # The usual case: a comma, and the next element already in the window.
                between = _BETWEEN.match(text, end)
                if between and between.end() < len(text):
                    pos = between.end()
                    continue
                self.pos = end
                separator = self.skip_whitespace()
                if separator != "," and separator != "]":
                    raise self.error("expected ',' or ']'" if separator else "truncated JSON")
                self.pos += 1
                if separator == "]":
                    break
                self.skip_whitespace()
                text, pos = self.text, self.pos
        if self.skip_whitespace():
            raise self.error("unexpected data after the list")


def iter_records(
    stream: BinaryIO, chunk_size: int = _CHUNK, shortcut: Shortcut | None = None
) -> Iterator[tuple[Any, str, bool]]:
    """Yield `(element, element_text, read_by_shortcut)` for each element of the JSON list in
    `stream`.

    `shortcut(text, start)` may read an element itself, returning what to yield and where
    the element ends; where it returns None the element is decoded as JSON.
    """
    try:
        yield from _Window(stream, chunk_size).elements(shortcut)
    except UnicodeDecodeError as error:
        raise MalformedAnswer(f"the answer is not valid UTF-8: {error.reason}") from None
