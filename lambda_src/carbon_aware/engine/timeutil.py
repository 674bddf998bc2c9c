"""Conversions between ISO-8601 / datetime and the engine's POSIX seconds (always UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601; ``Z`` or an offset is honoured, a naive time is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return as_utc(value)


def parse_seconds(text: str) -> float:
    """POSIX seconds of an ISO-8601 string: ``to_seconds(parse_iso(text))`` in one step."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()


def as_utc(value: datetime) -> datetime:
    """The same instant as an aware UTC datetime (naive is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is UTC:  # already (parsing "Z" or "+00:00" gives this very object)
        return value
    return value.astimezone(UTC)


def to_seconds(value: datetime) -> float:
    """POSIX seconds of a datetime (naive is taken as UTC)."""
    return as_utc(value).timestamp()


def from_seconds(seconds: float) -> datetime:
    """Aware UTC datetime of POSIX seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso(seconds: float) -> str:
    """ISO-8601 with ``Z`` for POSIX seconds, to the second."""
    return from_seconds(round(seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
