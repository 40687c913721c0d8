"""The event stream's START_SERVICE_TIMEs folded again from the steps whose records changed are the fold of
every step's record anew, or the refold says it cannot tell (then the stream folds them all); a record found
in a context's text is the one its parsed stringMap holds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from obcp.api.task_glance import (
    ServiceTimes,
    fold_service_times,
    recorded_service_times,
    refold_service_times,
)
from obcp.engine import Context

_times = st.dictionaries(st.sampled_from(["before", "after"]), st.integers(1, 3), max_size=2)
_record = st.dictionaries(st.integers(1, 4), _times, max_size=4)


@settings(max_examples=400, deadline=None)
@given(
    records=st.lists(_record, min_size=1, max_size=8),
    changed=st.lists(st.tuples(st.integers(0, 7), _record), max_size=4),
)
def test_a_refold_is_the_fold_anew(
    records: list[ServiceTimes], changed: list[tuple[int, ServiceTimes]]
) -> None:
    folded = fold_service_times(records)
    after = list(records)
    changes = []
    for index, new in changed:
        i = index % len(after)
        changes.append((after[i], new))
        after[i] = new
    refolded = refold_service_times(folded, changes)
    if refolded is not None:
        assert refolded == fold_service_times(after)
    assert folded == fold_service_times(records)  # the kept fold is not changed in place


def test_records_carried_on_unchanged_need_no_fold() -> None:
    # A rolling restart's steps pass every recorded time on: a step that finishes carries what the fold
    # has, plus at most a time nobody recorded before.
    first: ServiceTimes = {1: {"before": 10}, 2: {"before": 20}}
    folded = fold_service_times([first, first])
    same = refold_service_times(folded, [({}, first)])
    assert same is folded
    grown = refold_service_times(folded, [({}, {1: {"before": 10, "after": 11}, 2: {"before": 20}})])
    assert grown == {1: {"before": 10, "after": 11}, 2: {"before": 20}}
    # A retried step recording another time for a server: only the whole fold tells which wins.
    assert refold_service_times(folded, [({}, {1: {"before": 12}})]) is None
    assert refold_service_times(folded, [(first, {2: {"before": 20}})]) is None  # a record dropped


def _parsed(text: str) -> ServiceTimes:
    """What a step recorded, read by parsing its context (the definition `recorded_service_times` keeps)."""
    found: ServiceTimes = {}
    for key, value in Context.from_json(text).string_map.items():
        m = re.fullmatch(r"server\.([0-9]+)\.start_service_time_(before|after)", key)
        if m and re.fullmatch(r"[0-9]+", value):
            found.setdefault(int(m.group(1)), {})[m.group(2)] = int(value)
    return found


_record_key = st.builds(
    lambda n, which: f"server.{n}.start_service_time_{which}",
    st.integers(0, 99),
    st.sampled_from(["before", "after"]),
)
# Record keys, keys that end or begin like one, and any text.
_key = st.one_of(
    _record_key,
    st.builds(lambda head, key: head + key, st.sampled_from(["x", "a.", '"', "\\"]), _record_key),
    st.builds(lambda key, tail: key + tail, _record_key, st.sampled_from(["x", "0", '"', " "])),
    st.text(max_size=30),
)
# Values that look like records, or hide one inside a string (quotes, colons, escapes).
_text = st.one_of(
    st.integers(0, 10**16).map(str),
    st.text(alphabet='sev.r0123456789_:"\\ abfterstimcd', max_size=60),
    st.builds(lambda k, v: f'"{k}":"{v}"', _key, st.integers(0, 99).map(str)),
)


@settings(max_examples=500, deadline=None)
@given(
    strings=st.dictionaries(_key, _text, max_size=6),
    lists=st.dictionaries(_key, st.lists(_text, max_size=3), max_size=3),
)
def test_records_found_in_the_text_are_those_parsing_finds(
    strings: dict[str, str], lists: dict[str, list[str]]
) -> None:
    text = Context(-1, strings, lists).to_json()
    assert recorded_service_times(text) == _parsed(text)
