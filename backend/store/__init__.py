"""The store: the one owner of DuckDB. ``schema`` (the tables and migrations, written once), ``merging`` (rows on
their way in, all or nothing), ``queries`` (the reads), ``database`` (``Store``: connections, locking, writes)."""
from backend.store.database import Store
from backend.store.merging import IngestResult, StagedRows, StoreError, frames
from backend.store.schema import MIGRATIONS, TABLES

__all__ = ["Store", "StoreError", "IngestResult", "StagedRows", "frames", "MIGRATIONS", "TABLES"]
