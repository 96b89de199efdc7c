"""`signage db upgrade` (Alembic) builds exactly the schema the models describe."""

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fixtures import PG_URL, need, pg_admin

from signage.db import Base, all_models, make_engine


def diff(url: str) -> list:
    all_models()

    async def run():
        engine = make_engine(url)
        async with engine.connect() as conn:
            result = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
        await engine.dispose()
        return result

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_matches_models(tmp_path, kind):
    name = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        need("PostgreSQL", "127.0.0.1", 5432)
        name = f"signage_m_{uuid.uuid4().hex[:10]}"
        pg_admin(f'CREATE DATABASE "{name}"')
        url = PG_URL.format(db=name)
    try:
        env = {**os.environ, "SIGNAGE_DATA_DIR": str(tmp_path), "SIGNAGE_DATABASE_URL": url}
        for _ in range(2):  # twice: the second run finds nothing to do
            r = subprocess.run(
                [sys.executable, "-m", "signage", "db", "upgrade"], env=env, capture_output=True, text=True
            )
            assert r.returncode == 0, r.stderr
            assert "up to date" in r.stdout
        assert diff(url) == []
    finally:
        if name:
            pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_sqlite_runs_in_wal_mode(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"

    async def mode():
        from sqlalchemy import text

        engine = make_engine(url)
        async with engine.connect() as conn:
            value = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
        await engine.dispose()
        return value, fks

    assert asyncio.run(mode()) == ("wal", 1)
