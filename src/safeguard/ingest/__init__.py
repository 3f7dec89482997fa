"""The ingest stage: read monthly extracts, validate them, merge them into the processed store."""
