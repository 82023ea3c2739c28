"""python manage.py send_digests [--inline] [--now] [--email ADDRESS] [--dry-run]
                                 [--retry-failed [--date D]]"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass

from django.core.management.base import CommandError
from django.db.models import Count
from django.utils import timezone
from kombu.exceptions import OperationalError
from tqdm import tqdm

from digest import digests
from digest.management.cli import OperatorCommand, iso_date, positive_int
from digest.models import Digest
from digest.tasks import enqueue_digest_sends
from subscriptions.models import Subscriber

WAITING = (Digest.Status.PENDING, Digest.Status.SENDING)


@dataclass
class Tally:
    due: int = 0
    sent: int = 0
    empty: int = 0
    quiet: int = 0
    failed: int = 0
    no_listing: int = 0
    waiting: int = 0
    resumed: int = 0
    uncertain: int = 0

    def line(self, dry_run: bool = False) -> str:
        verb = "would send" if dry_run else "sent"
        parts = [
            f"{self.due} due", f"{self.sent} {verb}", f"{self.empty} empty",
            f"{self.quiet} quiet-day", f"{self.failed} failed",
        ]
        if self.uncertain:
            parts.append(f"{self.uncertain} uncertain (may have arrived; not resent again)")
        if self.resumed:
            parts.append(f"{self.resumed} left unsent by an earlier run")
        if self.no_listing:
            parts.append(f"{self.no_listing} without a new listing")
        if self.waiting:
            parts.append(f"{self.waiting} still waiting for a worker")
        return ", ".join(parts)


class Command(OperatorCommand):
    help = (
        "Build and send the digests that are due now: subscribers whose local delivery "
        "time has passed today and who have no digest for this period yet. Without "
        "--inline the ids go to the Celery workers and this command waits for them."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--inline", action="store_true", help="send in this process, without a broker or worker")
        parser.add_argument(
            "--now", action="store_true",
            help="treat the selected subscribers as due even before their local delivery "
            "time (still at most one digest per period)",
        )
        parser.add_argument("--email", metavar="ADDRESS", help="only this subscriber")
        parser.add_argument("--dry-run", action="store_true", help="render the emails; send nothing, store nothing")
        parser.add_argument(
            "--timeout", type=positive_int, default=600, metavar="SECONDS",
            help="how long to wait for the workers, or with --inline for retries (default 600)",
        )
        parser.add_argument(
            "--retry-failed", action="store_true",
            help="plan nothing new: send the failed digests of recent periods again (a fresh "
            "round of attempts; each is still claimed, so sent at most once)",
        )
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD",
                            help="with --retry-failed: only the digests of this period")

    def handle(self, *args, inline: bool, now: bool, email: str | None, dry_run: bool,
               timeout: int, retry_failed: bool, date: dt.date | None, verbosity: int, **options) -> None:
        moment = timezone.now()
        if date is not None and not retry_failed:
            raise CommandError("--date goes with --retry-failed.")
        if retry_failed and (now or email or dry_run):
            raise CommandError("--retry-failed cannot be combined with --now, --email or --dry-run.")
        if email is not None:
            self._check_address(email)
        if dry_run:
            tally = self._dry_run(moment, force=now, email=email)
        else:
            self.stdout.write(f"before: {digests.delivery_state(moment).line()}")
            if retry_failed:
                ids = digests.requeue_failed(digests.failed_digest_ids(period=date, now=moment))
                self.stdout.write(f"{len(ids)} failed digest(s) queued again")
                result = digests.PlanResult(pending_ids=ids)
            else:
                # An operator's run also sends what an earlier run planned but did not
                # send yet (the broker was down, say), however recent.
                result = digests.plan_digests(moment, force=now, email=email, resume=True)
            if inline:
                tally = self._send_inline(result, timeout=timeout, quiet=verbosity == 0)
            else:
                tally = self._send_with_workers(result, timeout=timeout, quiet=verbosity == 0)
            self.stdout.write(f"after: {digests.delivery_state(timezone.now()).line()}")
        if email is not None and tally.due == 0 and not tally.resumed:
            self.stdout.write(self._why_not_due(email, moment, force=now))
        self.stdout.write(tally.line(dry_run=dry_run))
        if tally.waiting:
            raise CommandError(
                f"{tally.waiting} digest(s) were not sent within {timeout}s: is a worker running "
                "(make worker)? They stay queued and go out when one picks them up."
            )
        if tally.failed:
            raise CommandError(
                f"{tally.failed} digest(s) failed (the reason is on each digest in the admin); "
                "send_digests --retry-failed sends them again once the cause is fixed."
            )

    def _check_address(self, email: str) -> None:
        if not Subscriber.objects.filter(email__iexact=email.strip()).exists():
            raise CommandError(f"No subscriber with the address {email.strip()!r}.")

    def _dry_run(self, moment, *, force: bool, email: str | None) -> Tally:
        targets = digests.due_targets(moment, force=force, email=email)
        tally = Tally(due=len(targets))
        for draft in digests.build_drafts(targets):
            if not draft.has_new_papers:
                tally.no_listing += 1
            elif not draft.sends_email:
                tally.empty += 1
            else:
                message = digests.draft_message(draft)
                tally.quiet += not draft.matches
                tally.sent += bool(draft.matches)
                self.stdout.write(f"would send to {draft.subscriber.email}: {message.subject}")
        return tally

    def _send_inline(self, result: digests.PlanResult, *, timeout: int, quiet: bool) -> Tally:
        # Temporary failures are retried here, on the workers' schedule, until each
        # digest is sent or has failed for good, or --timeout runs out.
        with tqdm(total=len(result.pending_ids), desc="sending", unit=" digests",
                  file=self.stderr._out, disable=quiet) as bar:
            left = digests.send_until_settled(
                result.pending_ids, on_progress=lambda done: bar.update(done - bar.n), timeout=timeout
            )
        if left:
            errors = Digest.objects.filter(pk__in=left).exclude(last_error="").values_list("last_error", flat=True)
            last_error = errors.first()
            self.stdout.write(f"after: {digests.delivery_state(timezone.now()).line()}")
            raise CommandError(
                f"{len(left)} digest(s) still wait for a retry after {timeout}s"
                + (f" (last error: {last_error})" if last_error else "")
                + ": they stay pending; run send_digests again once the mail server (EMAIL_HOST, EMAIL_PORT) "
                "answers, or let the workers send them."
            )
        return self._tally(result)

    def _send_with_workers(self, result: digests.PlanResult, *, timeout: int, quiet: bool) -> Tally:
        try:
            enqueue_digest_sends(result.pending_ids)
        except OperationalError as error:
            raise CommandError(
                f"cannot reach the Celery broker ({' '.join(str(error).split()).rstrip('.')}). The digests are "
                "saved: run send_digests again once it is back, or with --inline to send them now."
            ) from None
        # No result backend: progress is read from the Digest rows the workers update, as
        # one count a poll over the runs of ids (never an IN list of every id).
        deadline = time.monotonic() + timeout
        ours = Digest.objects.filter(digests.id_ranges(result.pending_ids))
        with tqdm(total=len(result.pending_ids), desc="sending", unit=" digests",
                  file=self.stderr._out, disable=quiet) as bar:
            while True:
                done = ours.exclude(status__in=WAITING).count()
                bar.update(done - bar.n)
                if done >= len(result.pending_ids) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        return self._tally(result)

    def _tally(self, result: digests.PlanResult) -> Tally:
        counts = Counter()
        for chunk in digests.chunked(sorted(result.pending_ids), 10_000):
            rows = (
                Digest.objects.filter(digests.id_ranges(chunk))
                .annotate(paper_total=Count("items"))
                .values_list("status", "paper_total")
            )
            counts.update((status, papers > 0) for status, papers in rows)
        Status = Digest.Status
        return Tally(
            due=result.due,
            sent=counts[Status.SENT, True],
            quiet=counts[Status.SENT, False],
            empty=result.empty + counts[Status.EMPTY, True] + counts[Status.EMPTY, False],
            failed=counts[Status.FAILED, True] + counts[Status.FAILED, False],
            uncertain=counts[Status.UNCERTAIN, True] + counts[Status.UNCERTAIN, False],
            no_listing=result.no_listing,
            resumed=result.resumed,
            waiting=sum(counts[status, has] for status in WAITING for has in (True, False)),
        )

    def _why_not_due(self, email: str, moment, *, force: bool) -> str:
        subscriber = Subscriber.objects.get(email__iexact=email.strip())
        local = digests.local_now(subscriber, moment)
        if subscriber.suppressed:
            return (
                f"{subscriber.email} gets no mail: {subscriber.get_suppressed_display().lower()} "
                "(clear it under Suppressions in the admin)."
            )
        if not digests.is_receiving(subscriber, local.date()):
            return f"{subscriber.email} is not receiving digests now (status: {subscriber.get_status_display()})."
        if digests.due_period(subscriber, moment, force=force) is None:
            return (
                f"{subscriber.email} is not due yet: digests go out at {subscriber.delivery_time:%H:%M} "
                f"({subscriber.timezone}){' on their weekday' if subscriber.frequency == 'weekly' else ''}; "
                "--now sends before that."
            )
        period = digests.period_for(subscriber, local.date())
        return f"{subscriber.email} already has a digest for {period}: one per period."
