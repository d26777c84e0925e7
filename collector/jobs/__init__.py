"""Kate-hosted agents: the durable job queue's worker and the agent processes it runs."""
