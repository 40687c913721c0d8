"""Checking a parameter value against the type and range an observer reports for it, and comparing two
spellings of one value.

Types are `V$OB_PARAMETERS.DATA_TYPE`: BOOL, INT, DOUBLE, CAPACITY, TIME, MOMENT, STRING, STRING_LIST,
MODE. The ranges are not columns in seekdb (nor in OceanBase 4.x): they are the `Range: [a, b]` sentence
of `INFO`, e.g. `[256K, 20M]`, `[0,+∞)`, `(0,65536]` or `0, [1G,)` (0 or at least 1G). What seekdb 1.4
accepts, measured: CAPACITY needs a unit (`100` is refused, `64mb` and `64M` are taken, `1.5G` is not),
TIME takes a bare number as seconds, INT refuses `5.0` and blanks, BOOL takes true/false/on/off/t/f/1/0/yes/no
in any case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CAPACITY = re.compile(r"^(\d+)\s*([BKMGTP])B?$", re.IGNORECASE)
_CAPACITY_UNITS = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_TIME = re.compile(r"^(\d+)\s*(us|ms|s|m|h|d)?$", re.IGNORECASE)
_TIME_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
_INT = re.compile(r"^-?\d+$")
_DOUBLE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_MOMENT = re.compile(r"^(disable|([01]?\d|2[0-3]):[0-5]\d)$", re.IGNORECASE)
_TRUE = {"true", "t", "on", "yes", "y", "1"}
_FALSE = {"false", "f", "off", "no", "n", "0"}
_RANGE = re.compile(
    r"Range:\s*(?:(?P<also>[^\[(,\s]+)\s*,\s*)?(?P<lo_br>[\[(])\s*(?P<lo>[^,\])]*?)\s*,"
    r"\s*(?P<hi>[^,\])]*?)\s*(?P<hi_br>[\])])",
    re.IGNORECASE,
)
_UNBOUNDED = {"", "+∞", "∞", "+inf", "inf"}
RANGED_TYPES = ("INT", "DOUBLE", "CAPACITY", "TIME")
MAX_VALUE_LENGTH = 4096


class BadValue(ValueError):
    """The value does not fit the parameter; the message says why, for a person."""


@dataclass(frozen=True)
class ValueRange:
    """Bounds as the observer writes them (`minValue`/`maxValue` of OCP's ParameterInfo)."""

    min_value: str | None = None
    max_value: str | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    also_allowed: str | None = None


def parse_range(data_type: str, info: str) -> ValueRange:
    """The range in an INFO text, or no bounds when it has none this module can read."""
    if data_type not in RANGED_TYPES:
        return ValueRange()
    m = _RANGE.search(info or "")
    if m is None:
        return ValueRange()
    lo = None if m.group("lo") in _UNBOUNDED else m.group("lo")
    hi = None if m.group("hi") in _UNBOUNDED else m.group("hi")
    # An open end has no bound to include or not.
    rng = ValueRange(
        lo, hi, lo is None or m.group("lo_br") == "[", hi is None or m.group("hi_br") == "]", m.group("also")
    )
    # A bound this module cannot read as a number of the type is dropped rather than trusted.
    for bound in (rng.min_value, rng.max_value, rng.also_allowed):
        if bound is not None and magnitude(data_type, bound) is None:
            return ValueRange()
    return rng


def magnitude(data_type: str, text: str) -> float | None:
    """The value as a number (bytes, microseconds), or None when it is not one of that type."""
    value = text.strip()
    if data_type == "INT":
        return float(int(value)) if _INT.match(value) else None
    if data_type == "DOUBLE":
        return float(value) if _DOUBLE.match(value) else None
    if data_type == "CAPACITY":
        if value == "0":  # the one bare number a range names ("0, [1G,)": 0 means automatic)
            return 0.0
        m = _CAPACITY.match(value)
        return float(int(m.group(1)) * _CAPACITY_UNITS[m.group(2).upper()]) if m else None
    if data_type == "TIME":
        m = _TIME.match(value)
        return float(int(m.group(1)) * _TIME_UNITS[(m.group(2) or "s").lower()]) if m else None
    return None


def check_value(data_type: str, rng: ValueRange, value: str) -> str:
    """The value to send, or BadValue saying what is wrong with it."""
    if len(value) > MAX_VALUE_LENGTH or any(ch in value for ch in "\r\n\x00"):
        raise BadValue(f"a value has at most {MAX_VALUE_LENGTH} characters on one line")
    if data_type == "BOOL":
        if value.strip().lower() not in _TRUE | _FALSE:
            raise BadValue("a BOOL is true or false")
        return "True" if value.strip().lower() in _TRUE else "False"
    if data_type == "MOMENT":
        if not _MOMENT.match(value.strip()):
            raise BadValue("a MOMENT is HH:MM (00:00 to 23:59) or disable")
        return value.strip()
    if data_type not in RANGED_TYPES:
        return value
    number = magnitude(data_type, value)
    if number is None:
        raise BadValue(_TYPE_TEXT[data_type])
    _check_range(data_type, rng, number)
    return value.strip()


_TYPE_TEXT = {
    "INT": "an INT is a whole number such as 2",
    "DOUBLE": "a DOUBLE is a number such as 2.5",
    "CAPACITY": "a CAPACITY is a whole number with a unit, such as 512K, 64M or 2G",
    "TIME": "a TIME is a whole number with a unit (us, ms, s, m, h, d), such as 10s",
}


def _check_range(data_type: str, rng: ValueRange, number: float) -> None:
    if rng.also_allowed is not None and magnitude(data_type, rng.also_allowed) == number:
        return
    lo = magnitude(data_type, rng.min_value) if rng.min_value is not None else None
    hi = magnitude(data_type, rng.max_value) if rng.max_value is not None else None
    below = lo is not None and (number < lo or (number == lo and not rng.min_inclusive))
    above = hi is not None and (number > hi or (number == hi and not rng.max_inclusive))
    if below or above:
        raise BadValue(f"the value must be in {describe_range(rng)}")


def describe_range(rng: ValueRange) -> str:
    lo = rng.min_value if rng.min_value is not None else "-∞"
    hi = rng.max_value if rng.max_value is not None else "+∞"
    opening = "[" if rng.min_inclusive and rng.min_value is not None else "("
    closing = "]" if rng.max_inclusive and rng.max_value is not None else ")"
    text = f"{opening}{lo}, {hi}{closing}"
    return f"{rng.also_allowed} or {text}" if rng.also_allowed is not None else text


def same_value(data_type: str, a: str, b: str) -> bool:
    """Whether two spellings mean the same value (`yes` and `True`, `64mb` and `64M`, `7200` and `7200s`)."""
    if data_type == "BOOL":
        x, y = a.strip().lower(), b.strip().lower()
        return (x in _TRUE and y in _TRUE) or (x in _FALSE and y in _FALSE)
    if data_type in RANGED_TYPES:
        ma, mb = magnitude(data_type, a), magnitude(data_type, b)
        if ma is not None and mb is not None:
            return ma == mb
    if data_type == "MOMENT":
        return a.strip().lower() == b.strip().lower()
    return a == b
