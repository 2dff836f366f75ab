import logging

from celery import current_task

from common.context import task_var


class TaskContextFilter(logging.Filter):
    """Stamps records logged while a Celery task runs with its id and name ("-" elsewhere), so
    a worker's log lines can be grouped by task as well as by workflow."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task
        request = getattr(task, "request", None) if task else None
        task_id = getattr(request, "id", None) if request else None
        task_name = task.name if task_id else None
        if task_id is None and (on_behalf := task_var.get()) is not None:
            task_name, task_id = on_behalf
        if not hasattr(record, "task_id"):
            record.task_id = task_id or "-"
        if not hasattr(record, "task_name"):
            record.task_name = task_name or "-"
        return True
