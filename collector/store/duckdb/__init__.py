"""The DuckDB engine: one file, one writer thread (store.py implements the storage seam)."""
