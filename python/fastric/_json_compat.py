"""Slow path of fastric's JSON decoder: ``simplejson.loads(bytes)`` semantics in pure Python.

awslambdaric 4.2.2 decodes events with ``simplejson.loads`` (simplejson 4.3.0, C speedups) and
reports failures as ``Unable to unmarshal input: <str(exc)>``. The Rust fast path
(``fastric._fastric.json_loads``) declines every document it cannot decode quickly and exactly;
this module then returns the value simplejson would, or raises the exception simplejson would
with the identical message. It is written from observed behaviour, imports nothing at module
import time, and loads ``re`` only when called.
"""

__all__ = ["JSONDecodeError", "loads"]


def _linecol(doc, pos):
    line = doc.count("\n", 0, pos) + 1
    if line == 1:
        return line, pos + 1
    return line, pos - doc.rindex("\n", 0, pos)


class JSONDecodeError(ValueError):
    """A JSON syntax error, shaped like ``simplejson.JSONDecodeError``.

    ``str(exc)`` is ``"<msg>: line L column C (char P)"``, or, when ``end`` is given (only for
    ``Extra data``), ``"<msg>: line L column C - line L2 column C2 (char P - E)"``. Positions count
    code points of the UTF-8-decoded document, lines and columns start at 1.
    """

    def __init__(self, msg, doc, pos, end=None):
        lineno, colno = _linecol(doc, pos)
        if end is None:
            text = f"{msg}: line {lineno} column {colno} (char {pos})"
            endlineno = endcolno = None
        else:
            endlineno, endcolno = _linecol(doc, end)
            text = f"{msg}: line {lineno} column {colno} - line {endlineno} column {endcolno} (char {pos} - {end})"
        ValueError.__init__(self, text)
        self.msg = msg
        self.doc = doc
        self.pos = pos
        self.end = end
        self.lineno = lineno
        self.colno = colno
        self.endlineno = endlineno
        self.endcolno = endcolno

    def __reduce__(self):
        return self.__class__, (self.msg, self.doc, self.pos, self.end)


_WS = " \t\n\r"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")
_RECURSION = "maximum recursion depth exceeded while decoding a JSON {} from a string"
_patterns = None


def _compile():
    global _patterns
    import re

    _patterns = (
        re.compile(r"[ \t\n\r]*").match,
        re.compile(r'[^"\\\x00-\x1f]*').match,
        re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?").match,
    )
    return _patterns


def loads(data):
    """Decode one JSON document exactly as ``simplejson.loads(data)`` (4.3.0) does.

    ``data``: ``bytes`` (decoded as strict UTF-8, as simplejson does) or ``str``.
    Returns dict / list / str / int / float / bool / None. Raises ``UnicodeDecodeError``
    (``'utf-8' codec can't decode byte 0xff in position 6: invalid start byte``),
    :class:`JSONDecodeError` (e.g. ``Expecting value: line 1 column 1 (char 0)``) or
    ``RecursionError`` (``maximum recursion depth exceeded while decoding a JSON array from a
    string``), all ``ValueError``s except the last, with simplejson's message text.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        s = str(data, "utf-8")
    else:
        s = data
    ws, chunk, number = _patterns or _compile()
    idx = 0
    if s:
        if s[0] == "\ufeff":
            idx = 1
        elif s[:3] == "\xef\xbb\xbf":
            idx = 3
    value, end = _scan(s, ws(s, idx).end(), ws, chunk, number)
    end = ws(s, end).end()
    if end != len(s):
        raise JSONDecodeError("Extra data", s, end, len(s))
    return value


def _string(s, end, chunk):
    """Scan a string literal; ``end`` is just past the opening quote. Returns (str, end)."""
    begin = end - 1
    parts = []
    append = parts.append
    while True:
        stop = chunk(s, end).end()
        if stop != end:
            append(s[end:stop])
        end = stop
        if end >= len(s):
            raise JSONDecodeError("Unterminated string starting at", s, begin)
        c = s[end]
        if c == '"':
            return "".join(parts), end + 1
        if c != "\\":
            raise JSONDecodeError(f"Invalid control character {c!r} at", s, end)
        end += 1
        if end >= len(s):
            raise JSONDecodeError("Unterminated string starting at", s, begin)
        esc = s[end]
        if esc != "u":
            try:
                append(_ESCAPES[esc])
            except KeyError:
                raise JSONDecodeError(f"Invalid \\X escape sequence {esc!r}", s, end) from None
            end += 1
            continue
        unit = _hex4(s, end + 1)
        end += 5
        if 0xD800 <= unit <= 0xDBFF and s[end : end + 2] == "\\u":
            low = _hex4(s, end + 2)
            if 0xDC00 <= low <= 0xDFFF:
                unit = 0x10000 + (((unit - 0xD800) << 10) | (low - 0xDC00))
                end += 6
        append(chr(unit))


def _hex4(s, at):
    digits = s[at : at + 4]
    if len(digits) != 4 or not _HEX.issuperset(digits):
        raise JSONDecodeError("Invalid \\uXXXX escape sequence", s, at - 2)
    return int(digits, 16)


def _recursion(exc, s, idx, kind):
    """Re-raise a RecursionError hit while parsing the value at ``idx`` with simplejson's text."""
    if exc.args and str(exc.args[0]).startswith("maximum recursion depth exceeded while decoding"):
        raise exc
    c = s[idx : idx + 1]
    name = "array" if c == "[" else "object" if c == "{" else kind
    raise RecursionError(_RECURSION.format(name)) from None


def _scan(s, idx, ws, chunk, number):
    """Parse the value starting at ``idx`` (no leading whitespace). Returns (value, end)."""
    try:
        c = s[idx]
    except IndexError:
        raise JSONDecodeError("Expecting value", s, idx) from None
    if c == '"':
        return _string(s, idx + 1, chunk)
    if c == "{":
        result = {}
        end = idx + 1
        c = s[end : end + 1]
        if c != '"':
            end = ws(s, end).end()
            c = s[end : end + 1]
            if c == "}":
                return result, end + 1
            if c != '"':
                raise JSONDecodeError("Expecting property name enclosed in double quotes or '}'", s, end)
        end += 1
        while True:
            key, end = _string(s, end, chunk)
            if s[end : end + 1] != ":":
                end = ws(s, end).end()
                if s[end : end + 1] != ":":
                    raise JSONDecodeError("Expecting ':' delimiter", s, end)
            end = ws(s, end + 1).end()
            # One Python frame per nesting level, like simplejson's C recursion accounting.
            try:
                value, end = _scan(s, end, ws, chunk, number)
            except RecursionError as exc:
                _recursion(exc, s, end, "object")
            result[key] = value
            end = ws(s, end).end()
            c = s[end : end + 1]
            end += 1
            if c == "}":
                return result, end
            if c != ",":
                raise JSONDecodeError("Expecting ',' delimiter or '}'", s, end - 1)
            comma = end - 1
            end = ws(s, end).end()
            c = s[end : end + 1]
            end += 1
            if c != '"':
                if c == "}":
                    raise JSONDecodeError("Illegal trailing comma before end of object", s, comma)
                raise JSONDecodeError("Expecting property name enclosed in double quotes", s, end - 1)
    if c == "[":
        result = []
        append = result.append
        end = ws(s, idx + 1).end()
        c = s[end : end + 1]
        if c == "]":
            return result, end + 1
        if not c:
            raise JSONDecodeError("Expecting value or ']'", s, end)
        while True:
            try:
                value, end = _scan(s, end, ws, chunk, number)
            except RecursionError as exc:
                _recursion(exc, s, end, "array")
            append(value)
            end = ws(s, end).end()
            c = s[end : end + 1]
            end += 1
            if c == "]":
                return result, end
            if c != ",":
                raise JSONDecodeError("Expecting ',' delimiter or ']'", s, end - 1)
            comma = end - 1
            end = ws(s, end).end()
            if s[end : end + 1] == "]":
                raise JSONDecodeError("Illegal trailing comma before end of array", s, comma)
    if c == "n" and s[idx : idx + 4] == "null":
        return None, idx + 4
    if c == "t" and s[idx : idx + 4] == "true":
        return True, idx + 4
    if c == "f" and s[idx : idx + 5] == "false":
        return False, idx + 5
    m = number(s, idx)
    if m is None:
        raise JSONDecodeError("Expecting value", s, idx)
    integer, frac, exp = m.groups()
    if frac or exp:
        return float(integer + (frac or "") + (exp or "")), m.end()
    return int(integer), m.end()
