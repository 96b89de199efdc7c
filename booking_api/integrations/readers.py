"""The rows of an import source, as dicts of the OA's own column or key names.

    await read_http(source, allow_private)       # GET url (auth header), the list at list_path
    await read_database(source, allow_private)   # the SELECT, rows newer than the cursor

A database is read read-only: only one SELECT is accepted (`check_select`: no `;`, nothing
but SELECT first, no `INTO`, no word that writes, locks or starts another statement outside
quotes, no executable comments), the transaction is set READ ONLY where the database knows it (PostgreSQL, MySQL
and MariaDB), and it is rolled back. Grant the account read access only, all the same.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine

from signage import outbound

TIMEOUT = 30.0
MAX_ROWS = 10_000
DRIVERS = {  # the URL an OA's admin writes → the async driver we use
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mssql": "mssql+aioodbc",
}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


class SourceError(Exception):
    """The source cannot be read (said in the run's `failure`)."""


def at_path(data, path: str):
    """`at_path({"data": {"items": [...]}}, "data.items")` → the list; "" is the answer itself."""
    for key in [k for k in path.split(".") if k]:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            raise SourceError(f"the answer has nothing at {path!r} (stopped at {key!r})")
    if not isinstance(data, list):
        raise SourceError(f"{path or 'the answer'} is not a list")
    return data


def auth_headers(value: str) -> dict[str, str]:
    """ "Authorization: Bearer abc" → {"Authorization": "Bearer abc"}; "" → {}."""
    name, sep, rest = value.partition(":")
    return {name.strip(): rest.strip()} if sep and name.strip() else {}


async def read_http(source, allow_private: bool) -> list[dict]:
    try:
        await outbound.check_host(source.url, allow_private)
    except outbound.Refused as exc:
        raise SourceError(str(exc)) from None
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as http:
        try:
            r = await http.get(source.url, headers={"accept": "application/json", **auth_headers(source.auth_header)})
        except httpx.HTTPError as exc:
            raise SourceError(f"{type(exc).__name__}: {exc}") from None
    if r.status_code != 200:
        raise SourceError(f"HTTP {r.status_code}: {r.text[:200]}")
    try:
        data = r.json()
    except ValueError:
        raise SourceError("the answer is not JSON") from None
    return [row for row in at_path(data, source.list_path)[:MAX_ROWS]]


class QueryRefused(ValueError):
    """The importer's query is not one plain SELECT (the message says why)."""


# words that make a SELECT write, lock, run something else or start another statement
# (SQL Server runs `SELECT 1 DELETE FROM t` as two statements, without a `;`)
WRITES = frozenset(
    """INTO INSERT UPDATE DELETE MERGE UPSERT DROP CREATE ALTER TRUNCATE RENAME GRANT REVOKE EXEC EXECUTE
    CALL DECLARE LOCK UNLOCK COPY LOAD HANDLER PREPARE DEALLOCATE KILL SHUTDOWN BACKUP RESTORE DBCC OPENROWSET
    OPENQUERY OPENDATASOURCE BULK WAITFOR""".split()
)
QUOTES = {"'": "'", '"': '"', "`": "`", "[": "]"}


def _scan(query: str, backslash: bool) -> tuple[str, str]:
    """(the query without its comments, its code with every quoted part blanked);
    `backslash`: a backslash escapes the next character in quotes (MySQL, MariaDB)."""
    text, code, i, n = [], [], 0, len(query)
    while i < n:
        c = query[i]
        if c in QUOTES:
            close, j = QUOTES[c], i + 1
            while j < n:
                if backslash and query[j] == "\\" and c != "[":
                    j += 2
                    continue
                if query[j] == close:
                    if query[j + 1 : j + 2] == close:  # '' inside quotes
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise QueryRefused(f"a quote is not closed: {query[i : i + 30]}")
            text.append(query[i : j + 1])
            code.append(" q ")
            i = j + 1
        elif query.startswith("--", i):
            j = query.find("\n", i)
            i = n if j < 0 else j
            text.append(" ")
            code.append(" ")
        elif query.startswith("/*", i):
            if query[i + 2 : i + 3] in ("!", "+") or query.startswith("/*M!", i):
                raise QueryRefused("no executable comments or hints (/*! … */)")
            j = query.find("*/", i + 2)
            if j < 0:
                raise QueryRefused("a comment is not closed: /*")
            i = j + 2
            text.append(" ")
            code.append(" ")
        else:
            text.append(c)
            code.append(c)
            i += 1
    return "".join(text), "".join(code)


def check_select(query: str) -> str:
    """The query, if it is one SELECT that only reads (without its comments, which would cut
    off what the importer wraps around it); else QueryRefused saying why."""
    texts = []
    for backslash in (False, True):  # as PostgreSQL and SQL Server read it, and as MySQL does
        text, code = _scan(query, backslash)
        code = code.strip().rstrip(";").strip()
        if not code:
            raise QueryRefused("give a SELECT")
        if ";" in code:
            raise QueryRefused("one statement only: no ;")
        if not re.match(r"(?is)^select\b", code):
            raise QueryRefused("only a SELECT is run (the importer reads, never writes)")
        words = {w.upper() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_$@#]*", code)}
        bad = sorted(words & WRITES)
        if bad:
            raise QueryRefused(f"only a plain SELECT is run: {bad[0]} is not allowed (one statement, no INTO, no locks)")
        texts.append(text.strip().rstrip(";").strip())
    if texts[0] != texts[1]:
        raise QueryRefused("a backslash before a quote reads differently in MySQL and elsewhere: double the quote ('')")
    return texts[0]


def engine_url(url: str) -> str:
    """`mysql://ro@oa-db/oa` → `mysql+aiomysql://ro@oa-db/oa`; ValueError if unknown."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a database URL, e.g. mysql://reader:pw@oa-db:3306/oa") from None
    backend = parsed.get_backend_name()
    if backend not in DRIVERS or not parsed.host:
        raise ValueError("a MySQL/MariaDB, PostgreSQL or SQL Server URL with a host")
    return parsed.set(drivername=DRIVERS[backend]).render_as_string(hide_password=False)


async def read_database(source, allow_private: bool) -> list[dict]:
    try:
        query, url = check_select(source.query), engine_url(source.url)
    except ValueError as exc:
        raise SourceError(str(exc)) from None
    parsed = make_url(url)
    try:
        await outbound.check_host(f"http://{parsed.host}:{parsed.port or 1}/", allow_private)
    except outbound.Refused as exc:
        raise SourceError(str(exc)) from None
    params: dict = {}
    if source.updated_column:
        if not IDENTIFIER.fullmatch(source.updated_column):
            raise SourceError("the updated-at column must be a plain column name")
        col = source.updated_column
        query = f"SELECT * FROM ({query}) AS oa_rows"
        if source.cursor:
            query += f" WHERE oa_rows.{col} > :cursor"
            params["cursor"] = dt.datetime.fromisoformat(source.cursor)
        query += f" ORDER BY oa_rows.{col}"
    try:
        engine = create_async_engine(url, pool_pre_ping=False)
    except Exception as exc:  # no driver installed for it, say
        raise SourceError(f"{type(exc).__name__}: {exc}") from None
    try:
        async with engine.connect() as conn:
            if parsed.get_backend_name() == "mysql":
                await conn.execute(text("SET SESSION TRANSACTION READ ONLY"))
                await conn.rollback()
            elif parsed.get_backend_name() == "postgresql":
                await conn.execute(text("SET TRANSACTION READ ONLY"))
            result = await conn.execute(text(query), params)
            rows = [dict(r._mapping) for r in result.fetchmany(MAX_ROWS)]
            await conn.rollback()
    except Exception as exc:
        raise SourceError(f"{type(exc).__name__}: {str(exc)[:500]}") from None
    finally:
        await engine.dispose()
    return rows
