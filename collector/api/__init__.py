"""kate.collector.api: HTTP handlers of the Runs API, SQL endpoint and OpenAPI document."""
