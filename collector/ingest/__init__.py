"""kate.collector.ingest."""
