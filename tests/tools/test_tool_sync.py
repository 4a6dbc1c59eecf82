"""sync_tools against an in-memory SQLite tools table."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from dashboard.tools.registry import all_tools
from dashboard.tools.sync import sync_tools


class Base(DeclarativeBase):
    pass


class Tool(Base):
    """The same columns as the app's dashboard.models.Tool."""

    __tablename__ = "tools"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.Text)
    version: Mapped[str] = mapped_column(sa.String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    endpoint_path: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))
    kind: Mapped[str] = mapped_column(sa.Text, default="builtin")


@pytest.fixture
def session():
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def rows(session) -> dict:
    """(name, version) -> row."""
    return {(row.name, row.version): row for row in session.scalars(sa.select(Tool))}


def test_first_sync_adds_every_tool(session):
    counts = sync_tools(session, Tool)
    assert counts == {"added": len(all_tools()), "updated": 0, "deactivated": 0}
    stored = rows(session)
    assert stored[("sentiment", "v2")].endpoint_path == "/api/v1/tools/sentiment/v2"
    assert all(row.is_active for row in stored.values())


def test_second_sync_changes_nothing(session):
    sync_tools(session, Tool)
    assert sync_tools(session, Tool) == {"added": 0, "updated": 0, "deactivated": 0}


def test_sync_updates_and_deactivates_but_keeps_an_operators_switch_off(session):
    sync_tools(session, Tool)
    stored = rows(session)
    stored[("echo", "v1")].description = "old words"
    stored[("keywords", "v1")].is_active = False
    session.add(
        Tool(
            name="retired",
            version="v1",
            description="Gone.",
            endpoint_path="/api/v1/tools/retired/v1",
        )
    )
    session.flush()
    assert sync_tools(session, Tool) == {"added": 0, "updated": 1, "deactivated": 1}
    stored = rows(session)
    assert stored[("echo", "v1")].description != "old words"
    assert stored[("keywords", "v1")].is_active is False
    assert stored[("retired", "v1")].is_active is False
    assert sync_tools(session, Tool) == {"added": 0, "updated": 0, "deactivated": 0}
