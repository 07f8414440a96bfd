"""Delta tables: ensure, append, MERGE with retry, change feed; the ``runs`` table; maintenance."""
