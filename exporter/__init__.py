"""kate.exporter."""
