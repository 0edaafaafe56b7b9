"""The JSON log formatter: one object per record, extras kept, time to the millisecond in UTC."""

from __future__ import annotations

import io
import json
import logging

import pytest

from kit.context import request_id_var
from kit.logs import FIELDS, JsonFormatter, configure_logging, log_fields


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


@pytest.fixture
def configured():
    """The process's logging as configure_logging leaves it, restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    stream = io.StringIO()
    configure_logging("svc", "INFO", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved[2:]


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_fields_writes_the_line_a_record_would_make(configured):
    logger = logging.getLogger("rendezvous.test_fields")
    token = request_id_var.set("req-1")
    try:
        log_fields(logger, logging.INFO, "rpc", {"method": "/a.B/C", "code": "OK", "ms": 1.5, "odd": object})
        logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, "rpc", (), None, "f",
                                        {FIELDS: {"method": "/a.B/C", "code": "OK", "ms": 1.5, "odd": object}}))  # fmt: skip
    finally:
        request_id_var.reset(token)
    direct, through_logging = _lines(configured)
    assert direct.pop("ts")[:4] == through_logging.pop("ts")[:4]
    assert direct == through_logging == {"level": "INFO", "service": "svc", "logger": "rendezvous.test_fields",
                                         "msg": "rpc", "request_id": "req-1", "method": "/a.B/C", "code": "OK",
                                         "ms": 1.5, "odd": str(object)}  # fmt: skip


def test_log_fields_takes_the_usual_way_when_something_else_listens_and_stays_quiet_below_its_level(configured):
    logger = logging.getLogger("rendezvous.test_fields_captured")
    captured = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    capture = Capture()
    logger.addHandler(capture)
    try:
        log_fields(logger, logging.INFO, "rpc", {"code": "OK"})
        logger.setLevel(logging.WARNING)
        log_fields(logger, logging.INFO, "rpc", {"code": "SILENT"})
    finally:
        logger.removeHandler(capture)
        logger.setLevel(logging.NOTSET)
    assert [r.__dict__[FIELDS]["code"] for r in captured] == ["OK"]
    assert [line["code"] for line in _lines(configured)] == ["OK"]  # and it still reached the root's handler
