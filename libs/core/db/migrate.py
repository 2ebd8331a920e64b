"""Run Alembic migrations from code (``planwright migrate`` and ``planwright up``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, text

from planwright.core.db.engine import make_engine
from planwright.core.errors import ConfigError
from planwright.core.settings import async_db_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


async def wait_for_db(url: str, *, timeout_s: float = 60.0) -> None:
    """Return once the database accepts connections; raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            await engine.dispose()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def create_database_if_missing(url: str) -> bool:
    """Create the Postgres database that ``url`` names when it does not exist; True if created."""
    target = make_url(async_db_url(url))
    if not target.drivername.startswith("postgresql") or not target.database:
        raise ConfigError("--create-database needs DATABASE_URL to be a postgresql:// URL naming a database")
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect():
            return False
    except Exception as exc:
        if "does not exist" not in str(exc):
            raise
    finally:
        await engine.dispose()
    admin = make_engine(target.set(database="postgres").render_as_string(hide_password=False), pool_size=1)
    try:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            name = target.database.replace('"', '""')
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return True


def upgrade_head(url: str) -> None:
    """Migrate to the newest revision. Must be called outside a running event loop."""
    command.upgrade(alembic_config(url), "head")
