"""Sources to documents: readers per input format, the pure ingest rules (ids, hashes, reasons to
quarantine), ``to_documents``, and the corpus formats (PubTator, CoNLL)."""
