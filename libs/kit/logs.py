"""JSON logs, one object per line, carrying the request id and the trace id.

Nothing secret is logged by the kit: metadata values (tokens) never reach a record.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

from opentelemetry import trace

from kit.context import request_id_var

#: A record attribute holding all of its extra fields (``extra={FIELDS: {...}}``), so the formatter
#: need not search the record's attributes for them.
FIELDS = "_fields"
_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
#: ``json.dumps(out, default=str)`` without building an encoder for every record.
_encode = json.JSONEncoder(default=str).encode


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; ``extra=`` fields are kept as top-level keys.

    Every RPC's access-log line goes through here, so the date-time text of the current second is
    made once per second rather than once per record.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._second: tuple[int, str] = (-1, "")  # one attribute, so a reader never sees half an update

    def _timestamp(self, created: float, msecs: float) -> str:
        second = int(created)
        cached, text = self._second
        if cached != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int(msecs):03d}Z"

    def _head(self, created: float, msecs: float, levelname: str, name: str, msg: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ts": self._timestamp(created, msecs),
            "level": levelname,
            "service": self.service,
            "logger": name,
            "msg": msg,
        }
        request_id = request_id_var.get()
        if request_id:
            out["request_id"] = request_id
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        return out

    def format(self, record: logging.LogRecord) -> str:
        out = self._head(record.created, record.msecs, record.levelname, record.name, record.getMessage())
        fields = record.__dict__.get(FIELDS)
        if fields is not None:  # the caller put its fields in one place (the access log does)
            out.update(fields)
        else:
            for key, value in record.__dict__.items():
                if key not in _RESERVED and not key.startswith("_"):
                    out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _encode(out)

    def format_fields(self, name: str, level: int, msg: str, fields: dict[str, Any]) -> str:
        """The line :meth:`format` makes of a record of ``name`` at ``level`` with ``msg`` (no
        arguments) and ``extra={FIELDS: fields}``, made now, without the record."""
        created = time.time()
        out = self._head(created, (created - int(created)) * 1000, logging.getLevelName(level), name, msg)
        out.update(fields)
        return _encode(out)


class JsonStreamHandler(logging.StreamHandler):
    """The handler :func:`configure_logging` installs: :class:`JsonFormatter` lines to a stream."""

    def __init__(self, service: str, stream: TextIO) -> None:
        super().__init__(stream)
        self.setFormatter(JsonFormatter(service))


def log_fields(logger: logging.Logger, level: int, msg: str, fields: dict[str, Any]) -> None:
    """``logger.log(level, msg, extra=fields)`` for a line logged on every RPC (the access log).

    When the record would only reach the one handler :func:`configure_logging` installed (no
    handler or filter of the logger's own, nothing in between), the line is written straight to
    that handler's stream — the same line, without building a LogRecord and walking logging's
    handler chain, a measurable share of a small RPC. Otherwise (tests capturing the log, other
    configurations) the record takes the usual way.
    """
    if not logger.isEnabledFor(level):
        return
    root = logging.root
    if not logger.handlers and not logger.filters and logger.propagate and logger.parent is root and \
            len(root.handlers) == 1 and not root.filters:  # fmt: skip
        handler = root.handlers[0]
        if type(handler) is JsonStreamHandler and not handler.filters and level >= handler.level:
            formatter = handler.formatter
            assert isinstance(formatter, JsonFormatter)
            line = formatter.format_fields(logger.name, level, msg, fields) + handler.terminator
            with handler.lock:  # type: ignore[union-attr]
                handler.stream.write(line)
                handler.stream.flush()
            return
    logger.handle(logger.makeRecord(logger.name, level, __file__, 0, msg, (), None, "log_fields", {FIELDS: fields}))


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record of the process to stderr (or ``stream``) as JSON."""
    # The JSON lines print no thread or process names: records need not look them up (the logging
    # HOWTO's "Optimization"), which every RPC's access-log record would otherwise pay for.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = JsonStreamHandler(service, stream if stream is not None else sys.stderr)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that are chatty at INFO.
    for noisy in ("aiosqlite", "sqlalchemy.engine", "httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
