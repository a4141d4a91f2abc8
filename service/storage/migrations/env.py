"""Alembic environment: runs on the connection `service.storage.database.migrate` hands over."""

from alembic import context

from service.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
