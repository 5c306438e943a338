"""Where sweeps are stored: one SQLite file per sweep (the default, nothing to start) or a PostgreSQL database
shared by agents on many hosts. Both hold the same tables (``schema.py``) behind one interface (``database.py``);
the rest of the engine never knows which one it talks to."""

from localsweep.storage.database import Database, DatabaseUnavailableError, open_database

__all__ = ["Database", "DatabaseUnavailableError", "open_database"]
