"""Time a public page under load: gunicorn with real worker processes on loopback, wrk
as the bounded load generator, the page's weight and element count.

    python manage.py bench_pages [--papers N] [--path /] [--workers 2] [--connections 16]
                                 [--duration 10] [--keep]

With --papers N, a synthetic listing day of N papers (copies of the catalog's papers with
new titles, or made-up ones on an empty catalog) is added as the latest day, so the home
page shows it; it is deleted afterwards unless --keep. Without it the catalog is measured
as it is (for example the 202-paper sample of `make demo`). A benchmark, not a test: it
prints figures, and on a shared machine they move with the load, which it prints too.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from digest.health import PATH as HEALTH_PATH
from digest.management.cli import OperatorCommand, positive_int
from digest.models import Paper

SYNTHETIC_PREFIX = "[bench_pages] "


class _ElementCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.elements += 1

    def handle_startendtag(self, tag, attrs) -> None:
        self.elements += 1


def page_figures(body: bytes) -> tuple[int, int]:
    """(bytes, elements) of an HTML page, as a browser's "elements" count would have it."""
    counter = _ElementCounter()
    counter.feed(body.decode("utf-8", "replace"))
    return len(body), counter.elements


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise CommandError(f"gunicorn did not answer {url} within {seconds:.0f} s") from None
            time.sleep(0.2)


_WRK_LATENCY = re.compile(r"^\s+(50|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_ERRORS = re.compile(r"(Non-2xx or 3xx responses|Socket errors):\s*(.+)")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


class Command(OperatorCommand):
    help = "Load-test a public page (default the home page) on gunicorn with wrk; print req/s, latency and page weight."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--papers", type=int, default=0, help="Add a synthetic latest day of N papers (default: none)."
        )
        parser.add_argument("--path", default="/", help="The page to load (default /).")
        parser.add_argument("--workers", type=positive_int, default=2, help="gunicorn worker processes (default 2).")
        parser.add_argument("--connections", type=positive_int, default=16, help="Concurrent connections (default 16).")
        parser.add_argument("--threads", type=positive_int, default=2, help="wrk threads (default 2).")
        parser.add_argument("--duration", type=positive_int, default=10, help="Seconds of load (default 10).")
        parser.add_argument("--keep", action="store_true", help="Keep the synthetic papers afterwards.")

    def handle(
        self,
        *args,
        papers: int,
        path: str,
        workers: int,
        connections: int,
        threads: int,
        duration: int,
        keep: bool,
        **options,
    ) -> None:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise CommandError("wrk is not installed (Debian: apt-get install wrk).")
        if not path.startswith("/"):
            raise CommandError(f"--path must start with /: {path!r}")
        if papers < 0:
            raise CommandError("--papers must be 0 or more.")
        added = self._add_synthetic_day(papers) if papers else 0
        try:
            self._run(wrk, path, workers, connections, threads, duration, added)
        finally:
            if added and not keep:
                Paper.objects.filter(title__startswith=SYNTHETIC_PREFIX).delete()

    def _add_synthetic_day(self, count: int) -> int:
        day = timezone.localdate()
        sources = list(Paper.objects.filter(is_hidden=False).exclude(title__startswith=SYNTHETIC_PREFIX)[:500])
        with transaction.atomic():
            Paper.objects.filter(title__startswith=SYNTHETIC_PREFIX).delete()
            new = []
            for n in range(count):
                source = sources[n % len(sources)] if sources else None
                paper = Paper(
                    title=f"{SYNTHETIC_PREFIX}{n:05d} {source.title if source else 'A synthetic paper'}",
                    abstract=source.abstract if source else "An abstract " * 60,
                    authors=source.authors if source else ["A. Author", "B. Author"],
                    listed_on=day,
                    upvotes=(count - n) % 97,
                    code_url=source.code_url if source else "",
                )
                paper.title_key = paper.title.lower()
                new.append(paper)
            Paper.objects.bulk_create(new, batch_size=500)
            if sources:
                from digest.filing import file_papers_under_topics

                file_papers_under_topics(Paper.objects.filter(title__startswith=SYNTHETIC_PREFIX))
        from digest.page_cache import catalog_changed

        catalog_changed()
        return count

    def _run(
        self, wrk: str, path: str, workers: int, connections: int, threads: int, duration: int, added: int
    ) -> None:
        port = _free_port()
        url = f"http://127.0.0.1:{port}{path}"
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "digest.settings"}
        env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
        gunicorn = [
            sys.executable,
            "-m",
            "gunicorn",
            "digest.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
        server = subprocess.Popen(gunicorn, env=env, cwd=str(settings.BASE_DIR))
        try:
            _wait_until_up(f"http://127.0.0.1:{port}{HEALTH_PATH}")
            with urllib.request.urlopen(url, timeout=120) as response:
                body = response.read()
                status = response.status
            size, elements = page_figures(body)
            # Warm every worker (and any cache) before the timed run.
            subprocess.run([wrk, "-t1", "-c", str(workers * 2), "-d", "2s", url], capture_output=True, check=False)
            load_before = os.getloadavg()
            run = subprocess.run(
                [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency", url],
                capture_output=True,
                text=True,
                check=False,
            )
            uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
        finally:
            server.terminate()
            server.wait(timeout=30)
        if run.returncode != 0:
            raise CommandError(f"wrk failed: {run.stderr.strip() or run.stdout.strip()}")
        rate = _WRK_RATE.search(run.stdout)
        latency = {p: _ms(v, u) for p, v, u in _WRK_LATENCY.findall(run.stdout)}
        papers_that_day = Paper.objects.filter(listed_on=timezone.localdate(), is_hidden=False).count()
        self.stdout.write(f"page            {path} (HTTP {status})")
        self.stdout.write(
            f"papers          {Paper.objects.count()} in the catalog, {added} synthetic added, "
            f"{papers_that_day} listed {dt.date.isoformat(timezone.localdate())}"
        )
        self.stdout.write(f"page weight     {size:,} bytes, {elements:,} elements")
        self.stdout.write(
            f"load            gunicorn {workers} workers, wrk {threads} threads {connections} connections {duration} s"
        )
        self.stdout.write(f"requests/s      {float(rate.group(1)) if rate else float('nan'):.1f}")
        self.stdout.write("latency ms      " + "  ".join(f"p{p} {latency[p]:.1f}" for p in sorted(latency, key=int)))
        for kind, value in _WRK_ERRORS.findall(run.stdout):
            self.stdout.write(f"errors          {kind}: {value.strip()}")
        self.stdout.write(f"machine load    before {load_before[0]:.2f}; after: {uptime}")
