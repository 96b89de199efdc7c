"""The database: SQLAlchemy 2 (async) on SQLite (default, WAL mode) or PostgreSQL.

The engine is made in the app's lifespan (`Database.open`), never at import.
Handlers use `async with db.session() as s:`; writes use `db.begin()`, which on
SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so that a check and
the write that follows it cannot interleave with another writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence

from sqlalchemy import DateTime, Engine, MetaData, Row, bindparam, create_engine, event, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound, OperationalError
from sqlalchemy.pool import StaticPool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def all_models() -> None:
    """Import every module that defines tables, so `Base.metadata` is complete."""
    import booking_api.billing.models  # noqa: F401
    import booking_api.desk.models  # noqa: F401
    import booking_api.integrations.models  # noqa: F401
    import booking_api.meetings.models  # noqa: F401
    import booking_api.models  # noqa: F401
    import media.models  # noqa: F401
    import player.models  # noqa: F401
    import playlists.models  # noqa: F401
    import signage.directory.models  # noqa: F401
    import signage.eventlog.models  # noqa: F401
    import signage.models  # noqa: F401
    import signage.notify.models  # noqa: F401
    import signage.webhooks.models  # noqa: F401
    import widgets.models  # noqa: F401


def _refuse_nul(engine: AsyncEngine) -> None:
    """No text with a NUL character reaches the database, from any form, query or body:
    PostgreSQL cannot store it (a 500), and SQLite should keep what PostgreSQL keeps."""

    from signage.api import has_nul, nul_refused

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _check(_conn, _cursor, _statement, parameters, _context, _executemany):
        if has_nul(parameters):  # one row's, or many rows' (a list of them)
            raise nul_refused()


def make_engine(url: str, **kwargs) -> AsyncEngine:
    engine = _make_engine(url, **kwargs)
    _refuse_nul(engine)
    return engine


def _make_engine(url: str, **kwargs) -> AsyncEngine:
    if url.startswith("sqlite"):
        # WAL lets readers run beside the one writer: keep enough connections open.
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=20, max_overflow=0, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # aiosqlite: let SQLAlchemy control transactions (see "Serializable isolation /
            # Savepoints / Transactional DDL" in the SQLAlchemy SQLite docs).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def _make_reader(url: str) -> Engine | None:
    """SQLite's read connection for `Database.read`: one plain (not aiosqlite) connection,
    used on the event loop. `query_only`: it cannot write; no busy wait: a statement that
    finds the file busy goes to the async engine instead of holding up the loop."""
    if not url.startswith("sqlite+aiosqlite:///") or ":memory:" in url or "mode=memory" in url:
        return None
    engine = create_engine(
        url.replace("sqlite+aiosqlite:", "sqlite:", 1),
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},  # one loop thread at a time (tests make several)
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")
        cur.execute("PRAGMA busy_timeout=0")
        cur.close()

    return engine


class WriterQueue:
    """An asyncio lock that refuses re-entry by its holder (which would wait forever).

    Background writers (`background()`: the event log's consumers, whose work can wait) let
    the others go first: they queue only once the lock is free and no other writer waits, or
    after BACKGROUND_DEFER seconds of waiting for that (never starved)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task | None = None
        self._waiting = 0  # writers other than background ones, waiting
        self._changed = asyncio.Event()  # set at each release

    async def __aenter__(self) -> None:
        task = self._check()
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        self._holder = task

    async def __aexit__(self, *exc) -> None:
        self._release()

    def _release(self) -> None:
        self._holder = None
        self._lock.release()
        self._changed.set()

    @contextlib.asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        task = self._check()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BACKGROUND_DEFER
        while (self._lock.locked() or self._waiting) and loop.time() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            await asyncio.sleep(0)  # the writer woken by that release takes the lock first
        await self._lock.acquire()
        self._holder = task
        try:
            yield
        finally:
            self._release()

    def _check(self) -> asyncio.Task | None:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError("a write transaction was opened inside another one")
        return task


BACKGROUND_DEFER = 1.0  # seconds a background writer lets others go first, at most


class Found(list):
    """What `ReadSession.scalars` answers: a list with the ScalarResult methods code uses."""

    def all(self) -> list:
        return self

    def first(self):
        return self[0] if self else None

    def one(self):
        if len(self) != 1:
            raise NoResultFound("one row expected") if not self else MultipleResultsFound("one row expected")
        return self[0]

    def one_or_none(self):
        if len(self) > 1:
            raise MultipleResultsFound("at most one row expected")
        return self.first()


class ReadSession:
    """The read-only part of an `AsyncSession` (`get`, `scalar`, `scalars`, `execute`) on
    `Database.read`, for code written against a session that only reads (a door screen's
    state): the same answers, without the ORM's identity map and aiosqlite's thread.

    A selected model comes back as a detached instance of its class (its methods and
    properties work; no lazy loading: relationships are not loaded). Never write with it."""

    def __init__(self, db: Database):
        self.db = db
        self._conn = None  # PostgreSQL, inside `async with`: one pooled connection for every read

    async def _read(self, statement, params: Mapping | None) -> Sequence[Row]:
        if self._conn is None:
            return await self.db.read(statement, params)
        try:
            return (await self._conn.execute(statement, params)).all()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            await self._conn.close()  # found dead (the server restarted): take another one, once
            self._conn = await self.db._read_engine.connect()
            return (await self._conn.execute(statement, params)).all()

    async def execute(self, statement, params: Mapping | None = None) -> Found:
        """Rows; in a `select(Booking, Room)` each selected model is an instance, as the ORM gives."""
        rows = await self._read(statement, params)
        models = [d.get("expr") if isinstance(d.get("expr"), type) else None for d in _described(statement)]
        if not any(models):
            return Found(rows)
        if not all(models):  # a column beside a model, or an aliased model: refused, never half read
            raise TypeError("ReadSession.execute reads models alone or columns alone: use the session")
        return Found(tuple(_detached(m, row) for m in models) for row in rows)

    async def scalars(self, statement, params: Mapping | None = None) -> Found:
        rows = await self._read(statement, params)
        model = _model_of(statement)
        if model is None:
            return Found(row[0] for row in rows)
        return Found(_detached(model, row) for row in rows)

    async def scalar(self, statement, params: Mapping | None = None):
        return (await self.scalars(statement, params)).first()

    async def get(self, model, key):
        keys = key if isinstance(key, tuple) else (key,)
        statement = _BY_KEY.get(model)
        if statement is None:
            columns = sa_inspect(model).primary_key
            statement = _BY_KEY[model] = select(model).where(*(c == bindparam(f"k{i}") for i, c in enumerate(columns)))
        return (await self.scalars(statement, {f"k{i}": v for i, v in enumerate(keys)})).first()

    async def __aenter__(self) -> ReadSession:
        if self.db.backend != "sqlite":
            self._conn = await self.db._read_engine.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


_BY_KEY: dict = {}  # model: its select by primary key


_DESCRIBED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _described(statement) -> list[dict]:
    """`statement.column_descriptions`, kept while the statement lives: those a module makes
    once are described once (describing one anew costs more than a primary-key read)."""
    try:
        return _DESCRIBED[statement]
    except KeyError:
        described = _DESCRIBED[statement] = getattr(statement, "column_descriptions", None) or []
        return described
    except TypeError:  # not weakly referable: described each time
        return getattr(statement, "column_descriptions", None) or []


def _model_of(statement):
    """The mapped class a `select(Model)` selects alone; None for anything else."""
    described = _described(statement)
    if len(described) == 1 and isinstance(described[0].get("expr"), type):
        return described[0]["expr"]
    return None


def _detached(model, row: Row):
    """An instance of `model` holding a row's values, as the ORM would load it, unattached."""
    mapper = sa_inspect(model)
    obj = mapper.class_manager.new_instance()
    values = row._mapping
    obj.__dict__.update({prop.key: values[prop.columns[0]] for prop in mapper.column_attrs})
    return obj


class Database:
    def __init__(self, url: str):
        self.url = url
        self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.engine = make_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.backend == "sqlite" else self.engine
        )
        self._write_sessions = async_sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite has one writer at a time. Writers of this process queue here, in order,
        # instead of in SQLite's busy handler, which sleeps and retries (up to 100 ms a
        # try): under 50 concurrent bookings that sleeping was most of the time spent.
        # Other processes still meet at the file lock (busy_timeout).
        self.write_lock = WriterQueue() if self.backend == "sqlite" else contextlib.nullcontext()
        self.on_events: list = []  # called after a commit that wrote events (the dispatcher's wake)
        self._reader = _make_reader(url) if self.backend == "sqlite" else None
        # PostgreSQL reads: autocommit (no BEGIN/ROLLBACK round trips around a SELECT) and no
        # ping per checkout (a connection found dead is replaced and the read tried again).
        self._read_engine = (
            self.engine
            if self.backend == "sqlite"
            else create_async_engine(url, pool_size=10, max_overflow=0, isolation_level="AUTOCOMMIT")
        )

    async def read(self, statement, params: Mapping | None = None) -> Sequence[Row]:
        """The rows of a Core statement, without the ORM: the read path of hot endpoints
        (a row reads like the model: `row.name`). Each call is its own read transaction, so
        it sees every commit made before it, by any process.

        SQLite: run on the event loop from one read connection (a WAL reader never waits
        for the writer, and a primary-key read takes microseconds, where aiosqlite's thread
        hand-off took a millisecond under load). Keep to statements that read a few rows by
        index; a scan belongs in `session()`. PostgreSQL: a pooled Core connection."""
        if self._reader is not None:
            try:
                with self._reader.connect() as conn:
                    return conn.execute(statement, params).all()
            except OperationalError as exc:  # busy (another process recovering the WAL): wait off the loop
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        for attempt in (1, 2):
            try:
                async with self._read_engine.connect() as conn:
                    return (await conn.execute(statement, params)).all()
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("not reached")

    async def read_one(self, statement, params: Mapping | None = None) -> Row | None:
        """The first row of `read`, or None."""
        rows = await self.read(statement, params)
        return rows[0] if rows else None

    def reads(self) -> ReadSession:
        """A stand-in for `session()` in code that only reads, on the path of `read`."""
        return ReadSession(self)

    def session(self) -> AsyncSession:
        """A session for reads (and simple writes); commit it yourself."""
        return self._sessions()

    @contextlib.asynccontextmanager
    async def begin(self, background: bool = False) -> AsyncIterator[AsyncSession]:
        """A write transaction, committed on success, rolled back on any error. A `background`
        one (work that can wait) lets the other writers of this process go first (SQLite).

        Never open one inside another: on SQLite the inner one would wait for the outer.
        """
        lock = self.write_lock.background() if background and self.backend == "sqlite" else self.write_lock
        async with lock, self._write_sessions() as s:
            async with s.begin():
                yield s
        if s.info.pop("events", False):
            self.events_committed()

    def events_committed(self) -> None:
        """Events were committed (`signage.eventlog`): wake whoever follows them at once."""
        for wake in self.on_events:
            wake()

    async def check(self) -> dict:
        try:
            await self.read(text("SELECT 1"))
            return {"ok": True, "backend": self.backend}
        except Exception as exc:  # reported by /healthz, never raised
            return {"ok": False, "backend": self.backend, "error": type(exc).__name__}

    async def create_all(self) -> None:
        """Create every table directly (tests); the product uses `signage db upgrade`."""
        all_models()
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()
