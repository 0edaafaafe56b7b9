"""The JSON log formatter: one object per record, extras kept, time to the millisecond in UTC."""

from __future__ import annotations

import json
import logging

from kit.logs import JsonFormatter


def test_the_formatter_stamps_each_record_with_its_own_second_and_millisecond():
    formatter = JsonFormatter("svc")
    stamps = []
    for second, msecs in ((1_700_000_000, 123.0), (1_700_000_000, 987.6), (1_700_000_001, 4.0), (1_699_999_999, 500.0)):
        record = logging.makeLogRecord({"msg": "m", "created": second + msecs / 1000, "msecs": msecs})
        stamps.append(json.loads(formatter.format(record))["ts"])
    assert stamps == ["2023-11-14T22:13:20.123Z", "2023-11-14T22:13:20.987Z", "2023-11-14T22:13:21.004Z",
                      "2023-11-14T22:13:19.500Z"]  # fmt: skip


def test_the_formatter_keeps_extra_fields_and_writes_what_json_cannot_as_text():
    record = logging.makeLogRecord({"msg": "hello %s", "args": ("you",), "count": 3, "when": object, "_hidden": 1})
    out = json.loads(JsonFormatter("svc").format(record))
    assert (out["msg"], out["count"], out["when"]) == ("hello you", 3, str(object))
    assert "_hidden" not in out
