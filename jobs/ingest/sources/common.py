"""What the three real-data sources share: reading a CSV file, the clock, numbers, errors.

A source module turns one file into readings (one meter, one interval), rejects (lines the
loader cannot place) and catalogue entries, without touching Cassandra. The whole file is
parsed before anything is written, so a bad file stops the load with nothing stored.

Two kinds of trouble, kept apart on purpose:
- the file is not what its source writes (a column missing, a malformed date, a value that is
  not a number, a line with the wrong number of fields): ``BadInputError``, the load stops;
- the file is well formed but a line cannot be placed: its local time does not exist or is
  ambiguous in the given zone, or a cell the loader needs is EMPTY. An empty cell is how a
  meter export says "not reported", a fact about the meter, not a broken file, so it is a
  reject. The line is the unit of rejection: none of its readings is loaded, the raw line is
  kept in ``load_rejects`` with the reason, and the summary counts the readings it carried.
Blank lines carry no reading and are skipped.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The storage resolution of energy (Wh) and power factor in schemas/cassandra.py.
MILLI = Decimal("0.001")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")

NONEXISTENT_TIME = "nonexistent local time"
AMBIGUOUS_TIME = "ambiguous local time"


class BadInputError(ValueError):
    """The input is not what the loader reads; the one-line message names file, line and column."""


def bad_value(file: str, line: int, column: str, problem: str) -> BadInputError:
    """The error for one cell, worded ``<file> line <n> column <name>: <problem>``."""
    return BadInputError(f"{file} line {line} column {column}: {problem}")


@dataclass(frozen=True, slots=True)
class Reading:
    """One meter's interval as read: local day, UTC start, position in the file, channels."""

    meter_id: str
    day: date
    ts: datetime
    line: int
    kwh_import: Decimal
    kvarh: Decimal | None = None
    power_factor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """A line the loader cannot place: why (a short reason, counted), the detail, the raw line,
    and how many readings it carried."""

    line: int
    reason: str
    detail: str
    raw: str
    readings: int

    @property
    def stated(self) -> str:
        """The reason as stored in ``load_rejects``: reason and detail in one line."""
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class MeterInfo:
    """What a source knows about one of its meters, for the ``meters`` catalogue: ``capacity_kw``
    is what its connection is rated for (None: its class's, ``vee.connection_kw``)."""

    meter_id: str
    meter_class: str
    address: str
    capacity_kw: float | None = None


@dataclass
class ParsedFile:
    """Everything one file says, ready to write: nothing here has touched Cassandra yet."""

    file: str
    sha256: str
    lines: int = 0
    readings: list[Reading] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    meters: dict[str, MeterInfo] = field(default_factory=dict)


# ---------------------------------------------------------------- the clock


@dataclass(frozen=True)
class Clock:
    """The clock a file's timestamps are written in: an IANA zone or a fixed UTC offset.

    A fixed offset maps every local time to one instant. An IANA zone with daylight saving
    has local times that never happen (spring forward) or happen twice (fall back); those
    are returned as a reject reason, never guessed.
    """

    name: str
    zone: tzinfo
    _placed: dict[datetime, datetime | str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Clock:
        """``+10:00`` / ``-03:30`` as a fixed offset, anything else as an IANA zone name."""
        match = _OFFSET.fullmatch(text)
        if match:
            sign, hours, minutes = match.groups()
            offset = timedelta(hours=int(hours), minutes=int(minutes)) * (1 if sign == "+" else -1)
            if offset >= timedelta(hours=24):
                raise BadInputError(f"timezone {text!r}: offset beyond 24 hours")
            return cls(text, timezone(offset))
        try:
            return cls(text, ZoneInfo(text))
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInputError(f"timezone {text!r}: neither an IANA zone nor an offset like +10:00") from None

    def to_utc(self, local: datetime) -> datetime | str:
        """The UTC instant of a naive local time, or the reason it has none (or two).

        Remembered per local time: the meters of one file share their timestamps.
        """
        placed = self._placed.get(local)
        if placed is None:
            placed = self._placed[local] = self._convert(local)
        return placed

    def _convert(self, local: datetime) -> datetime | str:
        earlier = local.replace(tzinfo=self.zone, fold=0)
        later = local.replace(tzinfo=self.zone, fold=1)
        if earlier.utcoffset() != later.utcoffset():
            round_trip = earlier.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
            return AMBIGUOUS_TIME if round_trip == local else NONEXISTENT_TIME
        return earlier.astimezone(UTC)


@dataclass(frozen=True)
class LocalTimeFormat:
    """A timestamp layout: a regex with named groups year..minute (second optional) and its name."""

    pattern: re.Pattern[str]
    shown_as: str

    def parse(self, text: str, file: str, line: int, column: str) -> datetime | None:
        """The naive local time written in ``text`` (None if empty), or a BadInputError naming the cell."""
        if not text.strip():
            return None
        match = self.pattern.fullmatch(text)
        try:
            if match is None:
                raise ValueError
            parts = match.groupdict()
            return datetime(int(parts["year"]), int(parts["month"]), int(parts["day"]), int(parts["hour"]),
                            int(parts["minute"]), int(parts.get("second") or 0))
        except ValueError:
            raise bad_value(file, line, column, f"{text!r} is not a date-time {self.shown_as}") from None


# ---------------------------------------------------------------- numbers


def parse_number(text: str, file: str, line: int, column: str) -> Decimal | None:
    """A plain decimal number, exactly (no float on the way), None if empty; NaN, inf and '1_000' are refused."""
    if not text.strip():
        return None
    if not _NUMBER.fullmatch(text):
        raise bad_value(file, line, column, f"{text!r} is not a number")
    return Decimal(text)


def milli(value: Decimal) -> Decimal:
    """Quantise to 0.001 (Wh, or a power factor's third decimal), rounding half to even."""
    return value.quantize(MILLI, rounding=ROUND_HALF_EVEN)


# ---------------------------------------------------------------- the file


@dataclass(frozen=True)
class CsvRow:
    """One data line of a CSV file: its line number, its cells by column and its raw text."""

    line: int
    cells: dict[str, str]
    raw: str

    def empty(self, columns: Sequence[str]) -> str | None:
        """The first of ``columns`` whose cell is empty, if any."""
        return next((column for column in columns if not self.cells[column].strip()), None)


def file_sha256(data: bytes) -> str:
    """The hex sha256 of the file as stored (what ``sha256sum`` prints)."""
    return hashlib.sha256(data).hexdigest()


def open_csv(path: Path, required: Sequence[str]) -> tuple[str, Iterator[CsvRow]]:
    """The file's sha256 and its data lines; gzip or plain (by magic bytes), BOM or not.

    Raises BadInputError if a required column is missing from the header.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text_bytes = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise BadInputError(f"{path.name}: not a whole gzip file ({exc}): truncated or corrupt") from None
    try:
        text = text_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    if (nul := text.find("\x00")) >= 0:
        raise BadInputError(f"{path.name} line {text.count(chr(10), 0, nul) + 1}: a NUL byte (a binary or damaged file)")
    lines = text.splitlines()
    header = next(csv.reader(lines[:1]), [])
    missing = [column for column in required if column not in header]
    if missing:
        raise bad_value(path.name, 1, missing[0], f"missing from the header (found: {', '.join(header)})")
    return file_sha256(data), _rows(path.name, lines, header)


def _rows(file: str, lines: list[str], header: list[str]) -> Iterator[CsvRow]:
    reader = csv.reader(lines)
    next(reader)
    ended = reader.line_num
    for fields in reader:
        started, ended = ended, reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            raise BadInputError(f"{file} line {ended}: {len(fields)} fields, the header has {len(header)}")
        yield CsvRow(ended, dict(zip(header, fields)), "\n".join(lines[started:ended]))


def parse_file(
    path: Path,
    clock: Clock,
    required: Sequence[str],
    parse_row: Callable[[CsvRow, ParsedFile, Clock], None],
) -> ParsedFile:
    """Read ``path`` fully through a source's ``parse_row``, which appends readings or rejects."""
    sha256, rows = open_csv(path, required)
    parsed = ParsedFile(file=path.name, sha256=sha256)
    for row in rows:
        parsed.lines += 1
        parse_row(row, parsed, clock)
    return parsed


def place(row: CsvRow, parsed: ParsedFile, clock: Clock, local_start: datetime, readings: int) -> datetime | None:
    """The UTC start of ``local_start``, or None after recording the line as a reject."""
    utc = clock.to_utc(local_start)
    if isinstance(utc, str):
        detail = f"{local_start:%Y-%m-%d %H:%M} in {clock.name}"
        parsed.rejects.append(Reject(row.line, utc, detail, row.raw, readings))
        return None
    return utc


def reject_if_empty(row: CsvRow, parsed: ParsedFile, columns: Sequence[str], readings: int) -> bool:
    """Record the line as a reject if a cell it needs is empty; True if it was rejected."""
    column = row.empty(columns)
    if column is not None:
        parsed.rejects.append(Reject(row.line, "empty cell", f"column {column}", row.raw, readings))
    return column is not None


@dataclass(frozen=True)
class Source:
    """One real dataset: its default file and clock, its interval, the columns it needs, its parser."""

    name: str
    default_file: str
    default_tz: str
    interval_s: int
    columns: tuple[str, ...]
    parse_row: Callable[[CsvRow, ParsedFile, Clock], None]

    def parse(self, path: Path, clock: Clock) -> ParsedFile:
        """Every reading, reject and meter of the file at ``path``; BadInputError if it is malformed."""
        return parse_file(path, clock, self.columns, self.parse_row)
