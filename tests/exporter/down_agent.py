"""An agent process for test_collector_faults.py: configure Kate at start-up while its collector is down.

Usage: down_agent.py ENDPOINT AGENT_ID. Prints one JSON line: the agent's answer and seconds spent.
"""

from __future__ import annotations

import json
import sys
import time

import kate.exporter as kate


def main(endpoint: str, agent_id: str) -> None:
    started = time.monotonic()
    kate.configure(endpoint=endpoint, agent_id=agent_id)  # the default 10 s export timeout

    @kate.trace(kind="TOOL")
    def step(i: int) -> int:
        return i * i

    @kate.trace(kind="AGENT")
    def agent(n: int) -> int:
        return sum(step(i) for i in range(n))

    with kate.run(trigger="test", timeout=0.5):
        inside = agent(3)
    outside = agent(4)  # a trace outside any run: the exporter's own run, exported at exit
    print(json.dumps({"answers": [inside, outside], "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
