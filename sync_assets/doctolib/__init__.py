"""Doctolib: appointments per practice, incremental with a cursor, full resync on demand."""
