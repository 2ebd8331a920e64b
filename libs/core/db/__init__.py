"""Storage: the schema (SQLAlchemy Core), the engine, and Alembic migrations for SQLite and Postgres."""
