"""The customer store: SQLAlchemy models, sessions, query modules, importers and migrations.

Nothing here knows about Slack, the CLI or the analytics package (see docs/architecture.md).
"""
