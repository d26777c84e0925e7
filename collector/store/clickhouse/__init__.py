"""The scale-out engine: spans on ClickHouse (this package), runs and jobs on PostgreSQL (store/postgres/)."""
