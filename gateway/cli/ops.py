"""Operations: failed jobs (list, retry, purge), the outbox's stuck messages, and `doctor`."""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import click
from flask.cli import AppGroup, with_appcontext
from rq.job import Job
from sqlalchemy import select

from gateway import runtime
from gateway.clock import utcnow
from gateway.config import ConfigError
from gateway.models import Message
from gateway.phones import masked
from gateway.runtime import Runtime
from gateway.sms import outbox as outbox_module

jobs = AppGroup(
    "jobs",
    help="""Jobs of the queue that failed: list, retry, purge.

\b
Examples:
  ./ijwi jobs list
  ./ijwi jobs retry --all
""",
)
outbox = AppGroup(
    "outbox",
    help="""Outgoing SMS: those stuck on their way.

\b
Examples:
  ./ijwi outbox stuck --older-than 600
""",
)
# An exception's own line in a traceback ("module.Error: what"), not its context lines.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(: |$)")


def _rt() -> Runtime:
    return runtime.current()


def _reason(job: Job) -> str:
    """The one line saying why a job failed (its exception), never the whole traceback."""
    try:
        trace = job.latest_result().exc_string if job.latest_result() else job.exc_info  # type: ignore[union-attr]
    except Exception:
        trace = job.exc_info
    for line in reversed((trace or "").strip().splitlines()):
        if _EXCEPTION_LINE.match(line):
            return line[:160]
    return "(no reason kept)"


@jobs.command("list", short_help="Failed jobs, newest first, and the queue's counts.")
@click.option("--limit", default=50, show_default=True, help="Show at most this many (newest first).")
def jobs_list(limit: int) -> None:
    """Failed jobs, newest first: id, job, when it failed, why; and the queue's counts."""
    queue = _rt().queue
    registry = queue.failed_job_registry
    ids = registry.get_job_ids(0, limit - 1, desc=True)
    for job in Job.fetch_many(ids, connection=queue.connection):
        if job is None:
            continue
        ended = f"{job.ended_at:%Y-%m-%d %H:%M:%S}" if job.ended_at else "-"
        click.echo(f"{job.id}\t{job.func_name}\t{ended}\t{_reason(job)}")
    click.echo(
        f"{registry.count} failed, {len(queue)} queued, {queue.started_job_registry.count} running, "
        f"{queue.scheduled_job_registry.count} waiting for a retry"
    )


def _chosen(job_ids: tuple[str, ...], every: bool) -> list[str]:
    registry = _rt().queue.failed_job_registry
    if every == bool(job_ids):
        raise click.UsageError("name the failed jobs (ids from `jobs list`), or --all")
    failed = set(registry.get_job_ids())
    if every:
        return sorted(failed)
    unknown = [job_id for job_id in job_ids if job_id not in failed]
    if unknown:
        raise click.ClickException(f"not among the failed jobs: {', '.join(unknown)} (see `jobs list`)")
    return list(job_ids)


@jobs.command("retry", short_help="Put failed jobs back on the queue.")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every failed job.")
def jobs_retry(job_ids: tuple[str, ...], every: bool) -> None:
    """Put failed jobs back on the queue (jobs are safe to run again: their effects happen once)."""
    registry = _rt().queue.failed_job_registry
    chosen = _chosen(job_ids, every)
    for job_id in chosen:
        registry.requeue(job_id)
    click.echo(f"{len(chosen)} job(s) queued again")


@jobs.command("purge", short_help="Delete failed jobs (the sweeper requeues stored work).")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every failed job.")
def jobs_purge(job_ids: tuple[str, ...], every: bool) -> None:
    """Delete failed jobs. Nothing stored is lost: the sweeper queues again any report or
    message still waiting in the database."""
    registry = _rt().queue.failed_job_registry
    chosen = _chosen(job_ids, every)
    for job_id in chosen:
        registry.remove(job_id, delete_job=True)
    click.echo(f"{len(chosen)} failed job(s) deleted")


@outbox.command("stuck", short_help="Messages waiting too long to be sent.")
@click.option(
    "--older-than",
    default=outbox_module.STALLED_AFTER,
    show_default=True,
    type=click.IntRange(0),
    help="Seconds since the message last changed.",
)
def outbox_stuck(older_than: int) -> None:
    """Messages queued, being sent or waiting for a retry for longer than --older-than seconds."""
    since = utcnow() - timedelta(seconds=older_than)
    with _rt().db.reading() as session:
        rows = session.scalars(
            select(Message)
            .where(Message.status.in_(("queued", "sending", "retrying")), Message.updated_at < since)
            .order_by(Message.updated_at)
        ).all()
        now = utcnow()
        for m in rows:
            waited = int((now - m.updated_at).total_seconds() // 60)
            click.echo(
                f"{m.id}\t{m.kind}\t{masked(m.to)}\t{m.status}\t{m.attempts} attempt(s)\t{waited} min\t{m.error or ''}"
            )
    click.echo(f"{len(rows)} message(s) stuck for more than {older_than} s")


@click.command("doctor", short_help="Check settings, keys, database, Redis, Africa's Talking.")
@with_appcontext
def doctor() -> None:
    """Check settings, keys, database, Redis, Africa's Talking (nothing sent); exit 1 if anything needs fixing."""
    from gateway import doctor as checks  # imports Alembic: not for every process that loads the CLI

    try:
        rt = _rt()
    except ConfigError as exc:  # the app was made without settings: that is the finding
        findings = [checks.Finding(checks.FAIL, "settings", str(exc), "set it in the environment of every process")]
    else:
        findings = checks.examine(rt)
    for finding in findings:
        click.echo(finding.line())
    line, status = checks.summary(findings)
    click.echo(line)
    sys.exit(status)


# What gateway.cli registers.
COMMANDS = (jobs, outbox, doctor)
