"""kate.collector."""
