"""What a claim does with a due job, the same in every engine (docs/hosted-agents.md): a job
whose run was finished outside it is cancelled; a job whose lease expired on its last attempt
fails; any other due job is claimed, its attempt counted."""

from __future__ import annotations

import enum
from typing import NamedTuple


class ClaimStep(enum.Enum):
    CANCEL = "cancel"  # the job fails; its run stays as it was finished
    GIVE_UP = "give_up"  # the job and its run fail
    CLAIM = "claim"  # running, attempt + 1


class ClaimDecision(NamedTuple):
    step: ClaimStep
    error: str | None  # what the job (and, giving up, its run) say went wrong


def decide_claim(job_status: str, run_status: str, attempts: int, max_attempts: int) -> ClaimDecision:
    if run_status in ("completed", "failed"):  # e.g. POST .../fail on the queued run
        return ClaimDecision(ClaimStep.CANCEL, f"the run was {run_status} outside the job")
    if job_status == "running":  # a lease expired: the attempt was interrupted
        if attempts >= max_attempts:
            return ClaimDecision(ClaimStep.GIVE_UP, f"attempt {attempts} of {attempts} was interrupted: its lease expired"
                                                    " (the collector stopped)")
        return ClaimDecision(ClaimStep.CLAIM, f"attempt {attempts} was interrupted: its lease expired")
    return ClaimDecision(ClaimStep.CLAIM, None)
