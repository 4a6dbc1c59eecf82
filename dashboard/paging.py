"""Keyset pages: one order over unique columns, a position as an opaque cursor, pages either way.

The logs list, the support audit log and the support search all page with `Keyset`: each row's
position is the values of the order's columns ((created_at, id) for logs and audit, the listed
name for search: an organisation's slug, a person's email), and a page is the rows after (or
before) a position, compared as one row value so the database walks its index from there.
Why ours and not sqlakeyset: docs/architecture.md.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dashboard.extensions import db

Position = tuple[Any, ...]


class BadCursor(ValueError):
    """A page cursor that was not made by `encode_cursor` (tampered, truncated, garbage)."""


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor of a (created_at, id) position: urlsafe base64 of `iso|uuid`, no padding."""
    text = f"{created_at.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) inside a cursor; BadCursor for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        moment, row_id = text.split("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is not None:
            raise ValueError("cursor times are naive UTC")
        return created_at, uuid.UUID(row_id)
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise BadCursor(cursor) from error


def read_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The position in a cursor, or None for a missing or malformed one (start from the top)."""
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except BadCursor:
        return None


@dataclass(frozen=True)
class KeysetPage:
    """One page of rows in the keyset's order, and the positions its neighbours start from."""

    rows: list
    following: Position | None  # the last row shown, when rows follow it
    preceding: Position | None  # the first row shown (or the asked position), when rows precede
    is_first: bool


@dataclass(frozen=True)
class Keyset:
    """An order over columns that together are unique (newest first by default)."""

    columns: tuple
    descending: bool = True

    def position_of(self, row) -> Position:
        """The position of a row (an ORM object with the columns as attributes)."""
        return tuple(getattr(row, column.key) for column in self.columns)

    def _row_value(self, position: Position):
        """A position as a typed row value, to compare with the columns."""
        return sa.tuple_(
            *(
                sa.literal(value, column.type)
                for column, value in zip(self.columns, position, strict=True)
            )
        )

    def after(self, position: Position):
        """Rows that come after `position` in this order."""
        columns = sa.tuple_(*self.columns)
        if self.descending:
            return columns < self._row_value(position)
        return columns > self._row_value(position)

    def before(self, position: Position):
        """Rows that come before `position` in this order."""
        columns = sa.tuple_(*self.columns)
        if self.descending:
            return columns > self._row_value(position)
        return columns < self._row_value(position)

    def order(self, reverse: bool = False) -> list:
        """ORDER BY clauses for this order (or its reverse)."""
        descending = self.descending != reverse
        return [column.desc() if descending else column.asc() for column in self.columns]

    def exists(self, where: list, condition, reverse: bool = False) -> bool:
        """Whether a row under `where` meets `condition`. Asking for the nearest such row in
        index order (not a bare EXISTS, which the planner may answer with a sequential scan)
        keeps this one step down the index."""
        nearest = (
            sa.select(self.columns[-1])
            .where(*where, condition)
            .order_by(*self.order(reverse))
            .limit(1)
        )
        return db.session.scalar(nearest) is not None

    def page(
        self,
        select,
        where: list,
        at: Position | None = None,
        backwards: bool = False,
        size: int = 50,
        look_back: bool = False,
    ) -> KeysetPage:
        """The `size` rows of `select` under `where` after `at` (or from the top), or with
        `backwards` the ones just before it; a backward page that reaches the top is the top
        page. `look_back` also asks whether rows precede a forward page (for a "newer" link)."""
        if at is not None and backwards:
            rows = list(
                db.session.scalars(
                    select.where(*where, self.before(at))
                    .order_by(*self.order(reverse=True))
                    .limit(size + 1)
                )
            )
            if len(rows) <= size:
                return self.page(select, where, None, False, size, look_back)
            rows = rows[:size][::-1]
            last = self.position_of(rows[-1])
            return KeysetPage(
                rows=rows,
                following=last if self.exists(where, self.after(last)) else None,
                preceding=self.position_of(rows[0]),
                is_first=False,
            )
        conditions = [*where, self.after(at)] if at is not None else where
        rows = list(
            db.session.scalars(select.where(*conditions).order_by(*self.order()).limit(size + 1))
        )
        shown = rows[:size]
        preceding = None
        if look_back and at is not None:
            first = self.position_of(shown[0]) if shown else at
            if self.exists(where, self.before(first), reverse=True):
                preceding = first
        return KeysetPage(
            rows=shown,
            following=self.position_of(shown[-1]) if len(rows) > size else None,
            preceding=preceding,
            is_first=at is None,
        )
