"""Terminal rendering shared by the user commands (`enrich --wait`, `watch`) and `demo`.

A small own renderer rather than rich or tqdm: one line of text is all it draws, it needs no
new dependency, and it degrades to plain lines (printed when something changed) when stdout is
not a terminal, e.g. in CI logs or when piped to a file.
"""

import time
from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from credits.models import RefundStatus
from enrichment.models import Workflow
from enrichment.selectors import is_terminal_status
from enrichment.serializers import WorkflowStatusSerializer
from providers.selectors import provider_call_stats

BAR_WIDTH = 30


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(str(value))


def _rate(status: dict[str, Any]) -> float | None:
    """Leads per second since the run started (until it finished)."""
    started = _as_datetime(status.get("started_at"))
    if started is None or not status.get("processed"):
        return None
    ended = _as_datetime(status.get("finished_at")) or timezone.now()
    elapsed = (ended - started).total_seconds()
    return status["processed"] / elapsed if elapsed > 0 else None


def render_progress(status: dict[str, Any]) -> str:
    """One line: bar, percentage, leads done, emails and phones found, leads/s, credits.
    Takes the status document (enrichment.serializers.WorkflowStatusSerializer, as the API
    sends it)."""
    total, processed = status.get("total") or 0, status.get("processed") or 0
    percent = int(status.get("progress") or 0)
    filled = BAR_WIDTH * percent // 100
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    rate = _rate(status)
    credits = f"credits {status.get('credits_reserved', 0)} reserved"
    if is_terminal_status(status.get("status", "")):
        credits += (
            f", {status.get('credits_charged', 0)} charged, "
            f"{status.get('credits_refunded', 0)} refunded"
        )
    parts = [
        f"[{bar}] {percent:3d}%",
        f"{processed}/{total} leads",
        f"emails {status.get('found_emails', 0)}",
        f"phones {status.get('found_phones', 0)}",
        f"{rate:.0f} leads/s" if rate is not None else "- leads/s",
        credits,
        status.get("status", "?"),
    ]
    return " | ".join(parts)


class ProgressOutput(Protocol):
    """Where the progress line is drawn: a text stream or a management command's stdout."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def _is_tty(out: ProgressOutput) -> bool:
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def watch_workflow(
    workflow_id: str, *, out: ProgressOutput, interval: float = 0.5, timeout: float | None = None
) -> dict[str, Any]:
    """Redraws the progress line every `interval` seconds until the workflow is terminal and
    returns its final status document. On a terminal the line is redrawn in place; otherwise a
    plain line is written whenever the numbers change. `timeout` (seconds) raises TimeoutError.
    Any workspace's workflow: this is an operator's and the workflow owner's local tool."""
    tty = _is_tty(out)
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    while True:
        status = WorkflowStatusSerializer(Workflow.objects.get(pk=workflow_id)).data
        line = render_progress(status)
        if tty:
            out.write(f"\r{line}\x1b[K")
            out.flush()
        elif line != last:
            out.write(line + "\n")
        last = line
        if is_terminal_status(status["status"]):
            if tty:
                out.write("\n")
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{workflow_id} still {status['status']} after {timeout} s")
        time.sleep(interval)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def summary_table(workflow: Workflow) -> str:
    """The end-of-run summary: found %, per-provider hits and latency (from the provider calls
    tagged with the workflow id), credits reserved / charged / refunded."""
    workflow.refresh_from_db()
    total = workflow.total
    started, finished = workflow.started_at, workflow.finished_at
    took = f" in {(finished - started).total_seconds():.1f} s" if started and finished else ""
    lines = [
        f"Workflow {workflow.pk}: {workflow.status}{took}",
        f"  leads          {total:>8}   processed {workflow.processed}, "
        f"found something {workflow.completed} ({_percent(workflow.completed, total)})",
        f"  emails found   {workflow.found_emails:>8}   {_percent(workflow.found_emails, total)}",
        f"  phones found   {workflow.found_phones:>8}   {_percent(workflow.found_phones, total)}",
        f"  not found      {workflow.not_found:>8}",
        f"  errors         {workflow.failed:>8}",
        f"  skipped        {workflow.skipped + workflow.skipped_existing:>8}   "
        f"(already had the data {workflow.skipped_existing})",
        f"  credits        reserved {workflow.credits_reserved}, "
        f"charged {workflow.credits_charged}, refunded {workflow.credits_refunded}",
    ]
    if workflow.refund_status == RefundStatus.PENDING_REVIEW:
        lines.append("  refund         the unused reservation awaits an operator's review")
    if workflow.error:
        lines.append(f"  error          {workflow.error}")
    stats = provider_call_stats(tag=workflow.pk)
    if stats:
        lines.append("")
        header = f"  {'provider':<16}{'calls':>8}{'cached':>8}{'found':>8}{'hit rate':>10}"
        lines.append(header + f"{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
        for row in stats:
            hit_rate = "-" if row["hit_rate"] is None else f"{100 * row['hit_rate']:.1f} %"
            lines.append(
                f"  {row['provider']:<16}{row['calls']:>8}{row['cache_hits']:>8}"
                f"{row['found']:>8}{hit_rate:>10}{_ms(row['p50_ms']):>9}"
                f"{_ms(row['p95_ms']):>9}{row['errors']:>8}"
            )
    return "\n".join(lines)
