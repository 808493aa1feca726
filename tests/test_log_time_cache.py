"""The per-second time-string cache of fastric's log formatters gives the stdlib's bytes exactly."""

from __future__ import annotations

import logging
import time

import pytest
from fastric.log import TEXT_DATEFMT, TEXT_FORMAT, JsonFormatter, TextFormatter


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("app", logging.INFO, "/var/task/app.py", 7, "hello %s", ("world",), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    record.aws_request_id = "8f1c0b9e-5d2a-4c1e-9b7f-000000000001"
    return record


# Same second twice, the next second, a minute and a day boundary, back in time, the epoch.
TIMES = [
    1764489599.001,
    1764489599.999,
    1764489600.0,
    1764489600.5,
    1764575999.9,
    1764576000.2,
    1764489599.5,
    0.25,
]


@pytest.mark.parametrize("converter", [time.gmtime, time.localtime])
def test_text_formatter_matches_the_stdlib_record_by_record(monkeypatch, converter):
    monkeypatch.setattr(logging.Formatter, "converter", staticmethod(converter))
    ours = TextFormatter(TEXT_FORMAT, TEXT_DATEFMT)
    stdlib = logging.Formatter(TEXT_FORMAT, TEXT_DATEFMT)
    for created in TIMES:
        assert ours.format(_record(created)) == stdlib.format(_record(created))


def test_a_converter_change_between_records_is_seen(monkeypatch):
    ours = TextFormatter(TEXT_FORMAT, TEXT_DATEFMT)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        monkeypatch.setattr(logging.Formatter, "converter", staticmethod(time.gmtime))
        first = ours.format(_record(1764489599.5))
        monkeypatch.setattr(logging.Formatter, "converter", staticmethod(time.localtime))
        second = ours.format(_record(1764489599.625))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert "\t2025-11-30T07:59:59.500Z\t" in first
    assert "\t2025-11-30T13:29:59.625Z\t" in second


def test_json_formatter_timestamp_follows_each_second(monkeypatch):
    monkeypatch.setattr(logging.Formatter, "converter", staticmethod(time.gmtime))
    fmt = JsonFormatter()
    stamps = [fmt.format(_record(t)).split('"timestamp": "')[1][:20] for t in (1764489599.9, 1764489600.1)]
    assert stamps == ["2025-11-30T07:59:59Z", "2025-11-30T08:00:00Z"]


def test_without_datefmt_the_milliseconds_are_kept():
    fmt = TextFormatter("%(asctime)s")
    assert fmt.format(_record(1764489599.25)) != fmt.format(_record(1764489599.75))
