"""Automatic evaluation of completed runs: evaluators, the cooldown policy and the scheduler."""
