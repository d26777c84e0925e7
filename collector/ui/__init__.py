"""The web UI: static pages served by the collector under /ui/ that use the public Runs API and /sql."""
