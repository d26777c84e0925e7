"""Retention: deleting whole finished runs past their age or past the file's byte budget
(docs/operations.md#retention). The SQL lives in collector/store/duckdb/retention.py."""
