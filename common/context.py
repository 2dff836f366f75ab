"""Per-request / per-task context carried into every log line (request id, workflow id)."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
workflow_id_var: ContextVar[str] = ContextVar("workflow_id", default="-")
# (name, id) of the Celery task a thread works for outside the task's own thread (a chunk
# driver, enrichment.services.execution), for the log lines it writes.
task_var: ContextVar[tuple[str, str] | None] = ContextVar("task", default=None)


def current_request_id() -> str:
    return request_id_var.get()
