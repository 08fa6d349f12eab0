"""Bulk import: stream a CSV or JSONL file of one kind of record into the ingestion service.

The file is read line by line (never whole), each row becomes a record of the ingestion contract
(:mod:`rapport.ingest.records`), and records go in batches to
:func:`rapport.ingest.service.ingest_records`, which is set-based. A row that cannot become a
record, or whose record the service refuses, goes to a rejects file with its line number and the
errors naming the field; nothing is written for it. Re-running a file is safe: records carry their
source's ids, so a second run changes nothing.

CSV files are flat. How their columns map onto nested records (``email_2``, ``size_shoes``,
``customer_email``, one row per order line, ``--map``) is the convention in docs/importing.md;
and :mod:`rapport.ingest.columns` holds it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import itertools
import json
import queue
import re
import threading
import time
import zoneinfo
from abc import ABC, abstractmethod
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, Any, get_args

from pydantic import BaseModel

from rapport.db import Database, refresh_statistics
from rapport.errors import FieldError
from rapport.ingest import parallel
from rapport.ingest.columns import (
    ALIASES,
    SPLIT_ALIASES,
    Target,
    UnknownField,
    column_key,
    pattern_alias,
    record_model,
    resolve_path,
    unwrap,
)
from rapport.ingest.records import RECORD_TYPES, Record
from rapport.ingest.service import GROWS, ingest_records
from rapport.runtime import gc_tuned

KINDS = tuple(RECORD_TYPES)
FORMATS = ("csv", "jsonl")
#: Records per batch (one transaction each). Bigger than the API's: each batch has a fixed cost (its
#: look-ups, its commit, SQLite's checkpoints), and 5,000 measured a third faster than 1,000 for
#: events on both engines while holding SQLite's write lock for a few hundred milliseconds at most.
DEFAULT_BATCH = 5000
#: Rows of one order (or return) may be this many rows apart in a CSV file; see docs/importing.md.
GROUP_WINDOW = 10_000
LIST_SEPARATOR = "|"
#: Columns (or JSON keys) the rejects file adds; ignored on input so a fixed rejects file re-imports.
LINE_KEY, ERRORS_KEY, TEXT_KEY = "_line", "_errors", "_text"
_RESERVED = frozenset((LINE_KEY, ERRORS_KEY))
#: Kinds whose CSV rows are lines, grouped into one record per id.
_GROUPED = {"orders": "order_id", "returns": "return_id"}
_BOM = codecs.BOM_UTF8


class ImportUsageError(ValueError):
    """The import cannot run as asked (file, header or option); nothing was imported."""


# --- options and results ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    kind: str
    path: Path
    format: str | None = None  # csv | jsonl; default from the file name
    #: Source column (or JSON key) -> field name or path; an empty field drops the column.
    mapping: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    batch_size: int = DEFAULT_BATCH
    rejects: Path | None = None
    decimal_comma: bool = False
    encoding: str = "utf-8"
    #: For datetimes written without an offset (``2026-11-02 14:31``), as POS exports often do.
    timezone: str | None = None
    ignore_unknown_columns: bool = False
    #: Worker processes (PostgreSQL, events and orders): 0 = 3 or 4 for big files, 1 = this process only.
    jobs: int = 0


@dataclass
class ImportStats:
    """Counts so far; handed to the progress callback after every batch."""

    kind: str
    path: Path
    format: str
    rejects_path: Path
    total_bytes: int
    bytes_read: int = 0
    rows: int = 0
    records: Counter[str] = field(default_factory=Counter)  # by status
    rows_by_status: Counter[str] = field(default_factory=Counter)
    warnings: int = 0
    delimiter: str | None = None
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    @property
    def rejected_rows(self) -> int:
        return self.rows_by_status["rejected"]

    @property
    def accepted_rows(self) -> int:
        return sum(n for status, n in self.rows_by_status.items() if status != "rejected")

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0


def parse_map(items: Sequence[str]) -> dict[str, str]:
    """``["Client No=id", "Loyalty Points="]`` -> ``{"Client No": "id", "Loyalty Points": ""}``."""
    out: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        column, target = column.strip(), target.strip()
        if not sep or not column:
            raise ImportUsageError(
                f'--map {item!r}: expected COLUMN=FIELD, e.g. --map "Client No=id" (or COLUMN= to skip it)'
            )
        if column in out:
            raise ImportUsageError(f"--map: column {column!r} is mapped twice")
        out[column] = target
    return out


# --- what flows from a reader to the batcher ----------------------------------------------------


@dataclass(slots=True)
class _Unit:
    """One record to send, or a reject, with the rows it came from ((line number, original row))."""

    record: dict[str, Any] | Record | None
    rows: list[tuple[int, Any]]
    errors: list[FieldError] = field(default_factory=list)


Setter = Callable[[dict[str, Any], str], None]


def _converter(leaf: str, options: ImportOptions, tz: tzinfo | None) -> Callable[[str], Any] | None:
    if leaf == "list":
        return _split
    if leaf == "amount" and options.decimal_comma:
        return _decimal_comma
    if leaf == "datetime" and tz is not None:
        return lambda value: _localise(value, tz)
    return None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]


_THOUSANDS = re.compile(r"\d{1,3}(\.\d{3})+")


def _decimal_comma(value: str) -> str:
    """``1.234,50`` -> ``1234.50``. A dot is a thousands separator here, never a decimal point."""
    text = value.replace(" ", "").replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    whole, comma, fraction = text.partition(",")
    if "." in whole:
        if not _THOUSANDS.fullmatch(whole.lstrip("-")):
            raise ValueError(f"{value!r} is not an amount with a decimal comma (such as 1.234,50)")
        whole = whole.replace(".", "")
    if "," in fraction or "." in fraction:
        raise ValueError(f"{value!r} is not an amount with a decimal comma (such as 1.234,50)")
    return f"{whole}.{fraction}" if comma else whole


def _localise(value: str, tz: tzinfo) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the record's own validation names the problem
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.isoformat()


def _setter(
    path: tuple[str | int, ...], convert: Callable[[str], Any] | None, consts: tuple[tuple[str, str], ...]
) -> Setter:
    """A function putting one cell at ``path`` in a record being built; list positions are dict keys
    until :meth:`_Builder.build` turns them into lists."""
    parents, last = path[:-1], path[-1]
    if convert is None and not consts and len(parents) == 1:
        (p0,) = parents

        def put2(record: dict[Any, Any], value: str) -> None:
            child = record.get(p0)
            if child is None:
                child = record[p0] = {}
            child[last] = value

        return put2
    if convert is None and not consts and len(parents) == 2:
        p0, p1 = parents

        def put3(record: dict[Any, Any], value: str) -> None:
            child: dict[Any, Any] | None = record.get(p0)
            if child is None:
                child = record[p0] = {}
            node: dict[Any, Any] | None = child.get(p1)
            if node is None:
                node = child[p1] = {}
            node[last] = value

        return put3

    def put(record: dict[Any, Any], value: str) -> None:
        node = record
        for seg in parents:
            child = node.get(seg)
            if child is None:
                child = node[seg] = {}
            node = child
        node[last] = convert(value) if convert is not None else value
        for key, constant in consts:
            node[key] = constant

    return put


class _Builder:
    """Turns the cells of a row into a (nested) record dict, with work planned once per header."""

    def __init__(self, columns: list[tuple[int, str, Target]], options: ImportOptions, tz: tzinfo | None) -> None:
        self.simple: list[tuple[int, str]] = []
        self.complex: list[tuple[int, str, Setter]] = []
        holders: set[tuple[str | int, ...]] = set()
        # In path order, so list positions arrive in ascending order and a dict's values are the list.
        for index, header, target in sorted(columns, key=lambda c: tuple(_sort_key(s) for s in c[2].path)):
            convert = _converter(target.leaf, options, tz)
            if len(target.path) == 1 and convert is None and not target.consts:
                self.simple.append((index, str(target.path[0])))
            else:
                self.complex.append((index, header, _setter(target.path, convert, target.consts)))
            holders.update(target.path[:i] for i, seg in enumerate(target.path) if isinstance(seg, int))
        self.lists = sorted(holders, key=len, reverse=True)  # innermost first
        self.top_lists = [str(h[0]) for h in self.lists if len(h) == 1]
        self.deep_lists = [h for h in self.lists if len(h) > 1]

    def build(self, cells: Sequence[str], errors: list[FieldError], compact: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for index, name in self.simple:
            value = cells[index].strip()
            if value:
                record[name] = value
        for index, header, put in self.complex:
            value = cells[index].strip()
            if value:
                try:
                    put(record, value)
                except ValueError as exc:
                    errors.append(FieldError(header, str(exc)))
        if not compact:
            return record
        for holder in self.deep_lists:
            node: Any = record
            for seg in holder[:-1]:
                node = node.get(seg)
                if node is None:
                    break
            else:
                slots = node.get(holder[-1])
                if slots is not None:
                    node[holder[-1]] = list(slots.values())
        for name in self.top_lists:
            slots = record.get(name)
            if slots is not None:
                record[name] = list(slots.values())
        return record


def _sort_key(segment: str | int) -> str:
    return f"{segment:09d}" if isinstance(segment, int) else segment


# --- readers ------------------------------------------------------------------------------------


def _decoded(lines: Iterator[bytes], encoding: str, bad: deque[int], first_line: int) -> Iterator[str]:
    """Text lines for the csv module; undecodable lines are noted (the row becomes a reject)."""
    number = first_line - 1
    for raw in lines:
        number += 1
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError:
            bad.append(number)
            yield raw.decode(encoding, "replace")


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class _Reader(ABC):
    """Turns a file into record units; one subclass per format."""

    format: str
    delimiter: str | None = None
    rows_read = 0

    @abstractmethod
    def units(self) -> Iterator[_Unit]: ...

    @abstractmethod
    def describe(self, unit: _Unit, errors: Sequence[FieldError]) -> list[str]: ...


class _CsvReader(_Reader):
    format = "csv"

    def __init__(self, f: IO[bytes], options: ImportOptions, default_source: str | None) -> None:
        self.options = options
        self.kind = options.kind
        self.model = RECORD_TYPES[options.kind]
        self.default_source = default_source
        first = f.readline()
        if first.startswith(_BOM):
            first = first[len(_BOM) :]
        line = 1
        try:
            text = first.decode(options.encoding)
        except UnicodeDecodeError:
            raise ImportUsageError(
                f"the header of {options.path.name} is not valid {options.encoding}; pass --encoding "
                "(e.g. --encoding cp1252)"
            ) from None
        sep = re.fullmatch(r"sep=(.)\r?\n?", text)  # Excel's hint line
        if sep:
            self.delimiter = sep.group(1)
            text = f.readline().decode(options.encoding, "replace")
            line = 2
        else:
            self.delimiter = _sniff_delimiter(text)
        if not text.strip():
            raise ImportUsageError(f"{options.path.name} has no header row")
        self.bad: deque[int] = deque()
        lines = itertools.chain([text], _decoded(iter(f), options.encoding, self.bad, line + 1))
        self.reader = csv.reader(lines, delimiter=self.delimiter)
        self.header = next(self.reader)
        self.first_data_line = line + 1
        self.tz = zoneinfo.ZoneInfo(options.timezone) if options.timezone else None
        self._plan()

    # The header, read once: which cell goes where.
    def _plan(self) -> None:
        kind, options = self.kind, self.options
        mapping = dict(options.mapping)
        by_norm = {column_key(h): h for h in self.header}
        renames: dict[str, str] = {}
        for column, wanted in mapping.items():
            actual = column if column in self.header else by_norm.get(column_key(column))
            if actual is None:
                raise ImportUsageError(
                    f"--map {column}={wanted}: the file has no column {column!r} "
                    f"(its columns: {', '.join(self.header)})"
                )
            renames[actual] = wanted
        grouped = kind in _GROUPED
        line_model = record_model(get_args(unwrap(self.model.model_fields["lines"].annotation))[0]) if grouped else None
        slots: dict[str, int] = {}
        record_cols: list[tuple[int, str, Target]] = []
        line_cols: list[tuple[int, str, Target]] = []
        unknown: list[str] = []
        seen: dict[tuple[Any, ...], str] = {}
        self.column_of: dict[str, str] = {}
        self.keep = [i for i, h in enumerate(self.header) if h.strip() not in _RESERVED]
        for index, header in enumerate(self.header):
            if header.strip() in _RESERVED:
                continue
            name = renames.get(header, header)
            if not name:
                continue  # --map "Column=": skipped on purpose
            try:
                target = self._target(name, slots, line_model)
            except UnknownField as exc:
                if header in renames:
                    raise ImportUsageError(f"--map {header}={name}: {exc}") from None
                unknown.append(f"{header!r} ({exc})")
                continue
            filled = (target.line_level, *target.path)
            if filled in seen:
                raise ImportUsageError(f"columns {seen[filled]!r} and {header!r} both fill {_dotted(target)}")
            seen[filled] = header
            (line_cols if target.line_level else record_cols).append((index, header, target))
            self.column_of[_dotted(target)] = header
        if unknown and not options.ignore_unknown_columns:
            raise ImportUsageError(
                f"{len(unknown)} column(s) of {options.path.name} are not fields of {kind}: "
                + "; ".join(unknown)
                + '. Rename them with --map "COLUMN=field", skip one with --map "COLUMN=", '
                "or skip all such columns with --skip-unknown."
            )
        has_source = any(t.path == ("source",) for *_, t in record_cols)
        if "source" in self.model.model_fields and not has_source and not self.default_source:
            raise ImportUsageError(f"{kind} need a source: add a 'source' column or pass --source NAME")
        self.width = len(self.header)
        self.record_builder = _Builder(record_cols, options, self.tz)
        self.line_builder = _Builder(line_cols, options, self.tz) if grouped else None
        if grouped:
            id_index = next((i for i, _h, t in record_cols if t.path == ("id",)), None)
            if id_index is None:
                raise ImportUsageError(f"{kind} need an id column ({_GROUPED[kind]} or id): rows are grouped by it")
            if not line_cols:
                raise ImportUsageError(f"{kind} need line columns (sku, quantity ...): one row per line")
            self.key_index = id_index
            self.head_columns = [(i, h) for i, h, _t in record_cols]

    def _target(self, name: str, slots: dict[str, int], line_model: type[BaseModel] | None) -> Target:
        norm = column_key(name)
        consts: tuple[tuple[str, str], ...] = ()
        split = SPLIT_ALIASES.get(self.kind, {}).get(norm)
        if split is not None:
            return Target(split, "list")
        dotted = ALIASES.get(self.kind, {}).get(norm)
        if dotted is None:
            found = pattern_alias(self.kind, norm, slots)
            dotted, consts = found if found else (name, ())
        if line_model is not None and column_key(dotted.split(".")[0]) == "lines":
            rest = dotted.split(".", 1)[1] if "." in dotted else ""
            if not rest or rest.split(".")[0].strip().isdigit():
                raise UnknownField("one row is one line: name a field of the line, e.g. lines.sku or sku")
            path, leaf = resolve_path(line_model, rest)
            return Target(path, leaf, consts, line_level=True)
        path, leaf = resolve_path(self.model, dotted)
        return Target(path, leaf, consts)

    def finish(self, record: dict[str, Any]) -> dict[str, Any]:
        if "source" not in record and self.default_source:
            record["source"] = self.default_source
        customer = record.get("customer")
        if customer and "id" in customer and "source" not in customer and "source" in record:
            customer["source"] = record["source"]  # a client id in an order export is the same system's
        return record

    # The rows.
    def _rows(self) -> Iterator[tuple[int, list[str], FieldError | None]]:
        reader, width, bad = self.reader, self.width, self.bad
        previous = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line, previous = previous + 1, reader.line_num
                self.rows_read += 1
                yield line, [], FieldError("(row)", f"cannot be read as CSV: {exc}")
                continue
            line, previous = previous + 1, reader.line_num
            if not cells or not any(cells):
                continue
            self.rows_read += 1
            error = None
            if len(cells) != width:
                if len(cells) > width and not any(c.strip() for c in cells[width:]):
                    cells = cells[:width]  # a trailing delimiter
                else:
                    error = FieldError("(row)", f"has {len(cells)} cells where the header has {width}")
            if bad:
                while bad and bad[0] < line:
                    bad.popleft()
                if bad and bad[0] <= previous:
                    error = FieldError(
                        "(row)",
                        f"line {bad[0]} is not valid {self.options.encoding} (pass --encoding, e.g. --encoding cp1252)",
                    )
            yield line, cells, error

    def units(self) -> Iterator[_Unit]:
        if self.line_builder is not None:
            yield from self._grouped_units()
            return
        build, finish = self.record_builder.build, self.finish
        for line, cells, error in self._rows():
            if error is not None:
                yield _Unit(None, [(line, cells)], [error])
                continue
            errors: list[FieldError] = []
            record = finish(build(cells, errors))
            yield _Unit(None if errors else record, [(line, cells)], errors)

    def _grouped_units(self) -> Iterator[_Unit]:
        """Rows of one id become one record; an id is complete once GROUP_WINDOW rows pass without it."""
        open_: OrderedDict[str, _Group] = OrderedDict()
        done: set[int] = set()  # hashes of ids already sent, to catch a straggler row
        key_index, head_columns, label = self.key_index, self.head_columns, _GROUPED[self.kind]
        row_number = 0
        for line, cells, error in self._rows():
            row_number += 1
            key = cells[key_index].strip() if len(cells) > key_index else ""
            if not key:
                missing = FieldError(label, "is empty: rows are grouped by it")
                yield _Unit(None, [(line, cells)], [error or missing])
                continue
            group = open_.get(key)
            if group is None:
                if hash(key) in done:
                    yield _Unit(
                        None,
                        [(line, cells)],
                        [
                            error
                            or FieldError(
                                label,
                                (
                                    f"{key!r}: this row comes more than {GROUP_WINDOW:,} rows after the others of its "
                                    "record, which was already imported without it; sort the file by "
                                    f"{label} and import it again"
                                ),
                            )
                        ],
                    )
                    continue
                group = open_[key] = _Group(key, [c.strip() for c in cells] if error is None else [])
            else:
                open_.move_to_end(key)
            group.last = row_number
            group.rows.append((line, cells))
            if error is not None:
                group.errors.append(FieldError(error.field, f"line {line} {error.message}"))
            elif not group.head:
                group.head = [c.strip() for c in cells]
            else:
                head = group.head
                for index, header in head_columns:
                    value = cells[index].strip()
                    if value and value != head[index]:
                        if head[index]:
                            group.errors.append(
                                FieldError(
                                    header,
                                    (
                                        f"differs between rows of {label} {key!r}: {head[index]!r} "
                                        f"(line {group.rows[0][0]}) and {value!r} (line {line})"
                                    ),
                                )
                            )
                        else:
                            head[index] = value
            while open_ and next(iter(open_.values())).last <= row_number - GROUP_WINDOW:
                yield self._emit(open_.popitem(last=False)[1], done)
        while open_:
            yield self._emit(open_.popitem(last=False)[1], done)

    def _emit(self, group: _Group, done: set[int]) -> _Unit:
        done.add(hash(group.key))
        if group.errors:
            return _Unit(None, group.rows, group.errors)
        assert self.line_builder is not None
        errors: list[FieldError] = []
        record = self.record_builder.build(group.head, errors)
        record["lines"] = [self.line_builder.build(cells, errors) for _line, cells in group.rows]
        return _Unit(None if errors else self.finish(record), group.rows, errors)

    def describe(self, unit: _Unit, errors: Sequence[FieldError]) -> list[str]:
        """Errors as the person fixing the file reads them: with the column (and line, for a line)."""
        out = []
        for e in errors:
            name, where, column = e.field, "", None
            parts = name.split(".")
            first = unit.rows[0][1] if unit.rows else []
            if len(first) == self.width and parts[0] != "(row)":
                in_line = len(parts) > 2 and parts[0] == "lines" and parts[1].isdigit()
                if self.line_builder is not None and in_line:
                    position = int(parts[1])
                    if position < len(unit.rows):
                        line, cells = unit.rows[position]
                        where = f"line {line}, "
                        raw = self.line_builder.build(cells, [], compact=False)
                        column = self.column_of.get(_original_path(raw, parts[2:]))
                else:
                    raw = self.record_builder.build(first, [], compact=False)
                    column = self.column_of.get(_original_path(raw, parts))
            if column is not None and column != name:
                out.append(f"{where}column {column!r} ({name}): {e.message}")
            else:
                out.append(f"{where}{name}: {e.message}")
        return out

    def reject_row(self, cells: list[str]) -> list[str]:
        return [cells[i] for i in self.keep] if len(cells) == self.width else cells


@dataclass(slots=True)
class _Group:
    key: str
    head: list[str]
    rows: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    last: int = 0


def _dotted(target: Target) -> str:
    return ".".join(str(s) for s in target.path)


def _original_path(raw: Any, parts: Sequence[str]) -> str:
    """``consent.0.granted`` as the service reports it -> ``consent.1000.granted`` as the columns fill it
    (list positions are compacted when a record is built)."""
    out = []
    node = raw
    for part in parts:
        if isinstance(node, dict) and part.isdigit() and node and all(isinstance(k, int) for k in node):
            keys = sorted(node)
            key: Any = keys[int(part)] if int(part) < len(keys) else int(part)
        else:
            key = part
        out.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
    return ".".join(out)


class _JsonlReader(_Reader):
    format = "jsonl"

    def __init__(self, f: IO[bytes], options: ImportOptions, default_source: str | None) -> None:
        self.f = f
        self.options = options
        self.default_source = default_source if "source" in RECORD_TYPES[options.kind].model_fields else None
        fields = RECORD_TYPES[options.kind].model_fields
        self.renames = []
        for key, target in options.mapping.items():
            if target and target not in fields:
                raise ImportUsageError(
                    f"--map {key}={target}: {target!r} is not a field of {options.kind} "
                    f"(JSONL records are shaped like the record: --map renames top-level keys only)"
                )
            self.renames.append((key, target))
        self._fast = not self.renames and codecs.lookup(options.encoding).name == "utf-8"
        self._validate_json = RECORD_TYPES[options.kind].model_validate_json

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """The non-blank lines with their numbers, unparsed (a parallel import parses them in its workers)."""
        for line, raw in enumerate(self.f, start=1):
            if line == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if not raw.strip():
                continue
            self.rows_read += 1
            yield line, raw

    def units(self) -> Iterator[_Unit]:
        unit = self.unit
        for line, raw in self.lines():
            yield unit(line, raw)

    def unit(self, line: int, raw: bytes) -> _Unit:
        """One line as a record (validated when it can be in one step) or a reject."""
        # Fast path: a UTF-8 line that needs no renaming is parsed and validated in one step by
        # pydantic-core (about twice as fast as json.loads + validation). Anything it refuses is
        # read again below, so errors are worded the same whichever path a line took.
        source = self.default_source
        if self._fast and b'"_line"' not in raw and b'"_errors"' not in raw and (source is None or b'"source"' in raw):
            try:
                return _Unit(self._validate_json(raw), [(line, raw)])
            except ValueError:  # pydantic's ValidationError included
                pass
        encoding = self.options.encoding
        try:
            obj = json.loads(raw.decode(encoding))
        except UnicodeDecodeError:
            return _Unit(None, [(line, raw)], [FieldError("(line)", f"is not valid {encoding} (pass --encoding)")])
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON: {exc.msg} at column {exc.colno}"
            return _Unit(None, [(line, raw)], [FieldError("(line)", problem)])
        if not isinstance(obj, dict):
            return _Unit(None, [(line, raw)], [FieldError("(line)", "must be a JSON object, one record per line")])
        obj.pop(LINE_KEY, None)
        obj.pop(ERRORS_KEY, None)
        for key, target in self.renames:
            if key in obj:
                value = obj.pop(key)
                if target:
                    obj[target] = value
        if source and "source" not in obj:
            obj["source"] = source
        return _Unit(obj, [(line, raw)])

    def describe(self, unit: _Unit, errors: Sequence[FieldError]) -> list[str]:
        return [f"{e.field}: {e.message}" for e in errors]


# --- rejects ------------------------------------------------------------------------------------


class _Rejects:
    """The rejects file, opened at the first reject (and overwritten: it always tells the last run)."""

    def __init__(self, path: Path, reader: _Reader) -> None:
        self.path = path
        self.reader = reader
        self.file: IO[str] | None = None
        self.csv: Any = None

    def write(self, unit: _Unit, errors: Sequence[FieldError]) -> None:
        messages = self.reader.describe(unit, errors)
        if self.file is None:
            self.file = self.path.open("w", encoding="utf-8", newline="")
            if isinstance(self.reader, _CsvReader):
                self.csv = csv.writer(self.file, delimiter=self.reader.delimiter or ",")
                self.csv.writerow([LINE_KEY, ERRORS_KEY, *self.reader.reject_row(self.reader.header)])
        if isinstance(self.reader, _CsvReader):
            text = "; ".join(messages)
            for line, cells in unit.rows:
                self.csv.writerow([line, text, *self.reader.reject_row(cells)])
            return
        for line, raw in unit.rows:
            out: dict[str, Any] = {LINE_KEY: line, ERRORS_KEY: messages}
            try:
                original = json.loads(raw.decode(self.reader.options.encoding))  # type: ignore[attr-defined]
            except ValueError:
                original = None
            if isinstance(original, dict):
                original.pop(LINE_KEY, None)
                original.pop(ERRORS_KEY, None)
                out.update(original)
            else:
                out[TEXT_KEY] = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.file.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


# --- the import ---------------------------------------------------------------------------------


def default_rejects_path(path: Path, fmt: str) -> Path:
    return path.with_name(f"{path.name}.rejects.{'csv' if fmt == 'csv' else 'jsonl'}")


def detect_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ImportUsageError(f"cannot tell the format of {path.name} from its name: pass --format csv or --format jsonl")


def check_options(options: ImportOptions) -> tuple[str, Path]:
    """Everything that can be checked before reading a row; raises ImportUsageError."""
    if options.kind not in RECORD_TYPES:
        raise ImportUsageError(f"unknown kind {options.kind!r}; expected one of: {', '.join(KINDS)}")
    if not options.path.is_file():
        raise ImportUsageError(f"no such file: {options.path}")
    fmt = options.format or detect_format(options.path)
    if fmt not in FORMATS:
        raise ImportUsageError(f"unknown format {fmt!r}; expected csv or jsonl")
    if options.batch_size < 1:
        raise ImportUsageError("--batch-size must be at least 1")
    try:
        encoding = codecs.lookup(options.encoding).name
    except LookupError:
        raise ImportUsageError(f"unknown encoding {options.encoding!r}") from None
    if "\n".encode(encoding) != b"\n":
        raise ImportUsageError(f"{options.encoding} is not supported; convert the file to UTF-8")
    if options.timezone:
        try:
            zoneinfo.ZoneInfo(options.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImportUsageError(f"unknown time zone {options.timezone!r} (e.g. Europe/Paris)") from None
    if options.source is not None:
        if "source" not in RECORD_TYPES[options.kind].model_fields:
            raise ImportUsageError(f"{options.kind} records have no source; drop --source")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.:-]{0,63}", options.source.strip().lower()):
            raise ImportUsageError(
                f"--source {options.source!r}: 1-64 lower-case letters, digits, '_', '.', ':' or '-'"
            )
    rejects = options.rejects or default_rejects_path(options.path, fmt)
    if rejects.resolve() == options.path.resolve():
        raise ImportUsageError("the rejects file cannot be the input file")
    return fmt, rejects


_END = object()


def _read_ahead(reader: _Reader, f: IO[bytes], size: int) -> Generator[tuple[list[_Unit], int, int], None, None]:
    """Batches of units with the rows and bytes read so far, parsed one batch ahead in a thread.

    The reader thread parses and validates the next batch while this one is written: the
    database driver releases the GIL while SQLite works or PostgreSQL answers, so the two
    overlap instead of adding up. At most two batches wait; an error in the reader is raised
    here, and leaving early (an interrupted import) stops the thread.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            batch: list[_Unit] = []
            for unit in reader.units():
                batch.append(unit)
                if len(batch) >= size:
                    if not put((batch, reader.rows_read, f.tell())):
                        return
                    batch = []
            if batch and not put((batch, reader.rows_read, f.tell())):
                return
            put(_END)
        except BaseException as exc:  # handed to the importing thread, which raises it
            put(exc)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _serial(
    db: Database,
    options: ImportOptions,
    reader: _Reader,
    f: IO[bytes],
    stats: ImportStats,
    rejects: _Rejects,
    progress: Callable[[ImportStats], None] | None,
    flush: Callable[[list[_Unit]], None],
) -> None:
    """Import in this process, a batch per transaction, the next batch parsed ahead in a thread."""
    analyzed_at = 0  # records written when statistics were last refreshed
    try:
        # closing(): an interrupted import stops the reader thread before the file is closed.
        with contextlib.closing(_read_ahead(reader, f, options.batch_size)) as batches:
            for units, rows_read, bytes_read in batches:
                flush(units)
                written = stats.accepted_rows
                if written >= max(2 * analyzed_at, options.batch_size):
                    with db.write() as session:
                        refresh_statistics(session, GROWS[options.kind])
                    analyzed_at = written
                stats.rows, stats.bytes_read = rows_read, bytes_read
                if progress is not None:
                    progress(stats)
    finally:
        rejects.close()
        stats.rows, stats.bytes_read = reader.rows_read, f.tell()
        stats.finished = time.perf_counter()


def import_file(
    db: Database, options: ImportOptions, *, progress: Callable[[ImportStats], None] | None = None
) -> ImportStats:
    """Import ``options.path`` into ``db``; returns the counts. Raises ImportUsageError before any
    write when the file or options cannot work (unknown kind, unknown columns, no id column ...)."""
    fmt, rejects_path = check_options(options)
    try:
        jobs = parallel.jobs_for(db, options)
    except parallel.ParallelUsageError as exc:
        raise ImportUsageError(str(exc)) from None
    source = options.source.strip().lower() if options.source else None
    actor = f"import:{options.path.name}"
    with gc_tuned(), options.path.open("rb") as f:
        reader: _Reader = (_CsvReader if fmt == "csv" else _JsonlReader)(f, options, source)
        stats = ImportStats(
            options.kind, options.path, fmt, rejects_path, options.path.stat().st_size, delimiter=reader.delimiter
        )
        rejects = _Rejects(rejects_path, reader)

        def flush(batch: list[_Unit]) -> None:
            """Send the batch's records; count and write rejects in file order."""
            records = [u.record for u in batch if u.record is not None]
            outcomes = iter(
                ingest_records(db, options.kind, records, actor=actor, durable=False).outcomes if records else ()
            )
            for unit in batch:
                if unit.record is None:
                    status, errors = "rejected", unit.errors
                else:
                    outcome = next(outcomes)
                    status, errors = outcome.status, outcome.errors
                    stats.warnings += bool(outcome.warnings)
                stats.records[status] += 1
                stats.rows_by_status[status] += len(unit.rows)
                if status == "rejected":
                    rejects.write(unit, errors)

        if jobs > 1:
            try:
                parallel.run(
                    db, options, reader, stats, rejects, jobs, actor, GROWS[options.kind], progress, f.tell, source
                )
            finally:
                rejects.close()
                stats.bytes_read = f.tell()
                stats.finished = time.perf_counter()
        else:
            _serial(db, options, reader, f, stats, rejects, progress, flush)
    if rejects.file is None and rejects_path.exists() and options.rejects is None:
        rejects_path.unlink()  # a stale rejects file from an earlier run would mislead
    if progress is not None:
        progress(stats)
    return stats
