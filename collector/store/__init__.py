"""kate.collector.store."""
