"""Per-request / per-task context carried into every log line (request id, workflow id)."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
workflow_id_var: ContextVar[str] = ContextVar("workflow_id", default="-")


def current_request_id() -> str:
    return request_id_var.get()
