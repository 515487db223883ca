"""Storage: SQLAlchemy models, repositories, Alembic migrations and seed data."""
