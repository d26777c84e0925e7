"""The control store of the scale-out engine: runs, jobs, evaluations and limits on PostgreSQL."""
