"""Conversions between protobuf well-known types and Python values (for gRPC adapters only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def from_timestamp(ts: Timestamp, *, present: bool = True) -> datetime | None:
    """An aware UTC datetime, or None when the field was not set (``present`` from HasField)."""
    if not present:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def to_duration(value: timedelta) -> Duration:
    d = Duration()
    d.FromTimedelta(value)
    return d


def from_duration(d: Duration) -> timedelta:
    return d.ToTimedelta()
