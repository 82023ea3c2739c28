"""The SMTP sink of `bench_digests`, run in its own process (no Django here):

    python -m digest.bench_sink PORT COUNTS_PATH

accepts every message on 127.0.0.1:PORT, counts messages per recipient, and writes the
counts as JSON to COUNTS_PATH when it gets SIGTERM."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self) -> None:
        self.counts: Counter = Counter()

    async def handle_DATA(self, server, session, envelope) -> str:
        for rcpt in envelope.rcpt_tos:
            self.counts[rcpt.lower()] += 1
        return "250 OK"


def run(port: int, counts_path: Path) -> None:
    handler = CountingHandler()
    # No size limit: a refusal here would be the sink's doing, not the pipeline's.
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=0)
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    controller.start()
    while not stopping:
        time.sleep(0.1)
    controller.stop()
    counts_path.write_text(json.dumps(handler.counts))


if __name__ == "__main__":
    run(int(sys.argv[1]), Path(sys.argv[2]))
