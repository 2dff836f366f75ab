"""The one decorator for every Celery task, after Sentry's `instrumented_task`: it gives a task
its name, its queue, the retry policy for transient errors and what happens when the retries
run out, so task bodies stay thin (they call one service).

    @sluice_task(name="enrichment.run_chunk", queue=settings.SLUICE_CHUNK_QUEUE,
                 give_up=_chunk_give_up)
    def run_chunk(workflow_id: str, chunk_no: int) -> None: ...
"""

import inspect
import random
import re
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

# A restarted database server or a terminated connection: Django reconnects on the next query,
# so the task is worth running again.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
# `<app>.<verb_noun>`: the app is the package the task lives in, the rest its function's name.
NAME_PATTERN = re.compile(
    r"^(?P<app>[a-z][a-z0-9]*)\.(?P<verb_noun>[a-z][a-z0-9]*(?:_[a-z0-9]+)+)$"
)


def backoff_seconds(*, retries: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with full jitter: anywhere between 0 and base·2^retries, capped, so
    tasks that failed together do not come back together."""
    return random.uniform(0, min(cap_s, base_s * 2**retries))


def task_name_check(name: str, func: Callable[..., Any]) -> None:
    """Raises ValueError unless `name` is `<app>.<verb_noun>` for the function's app and name."""
    match = NAME_PATTERN.match(name)
    if match is None:
        raise ValueError(
            f"Task name {name!r} is not `<app>.<verb_noun>` (e.g. leads.purge_cohorts)."
        )
    app = func.__module__.split(".", 1)[0]
    if (match["app"], match["verb_noun"]) != (app, func.__name__):
        raise ValueError(
            f"Task name {name!r} does not match {func.__module__}.{func.__name__}: "
            f"name it {app}.{func.__name__}."
        )


def sluice_task(
    *,
    name: str,
    queue: str = "",
    retry_on: tuple[type[Exception], ...] = TRANSIENT_ERRORS,
    max_retries: int = 8,
    backoff_base_s: float = 1.0,
    backoff_cap_s: float = 60.0,
    give_up: Callable[..., None] | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], Task]:
    """Makes a function a Celery task.

    name: `<app>.<verb_noun>`, the function's app and name (checked).
    queue: the queue it is published to; empty = the default queue (CELERY_TASK_DEFAULT_QUEUE).
    retry_on: errors worth another run; anything else fails the task at once.
    max_retries, backoff_base_s, backoff_cap_s: retries after the first run, each after
        backoff_seconds().
    give_up: called with the task's arguments and `error=` the last error once the retries are
        exhausted; the task then ends normally. Without it the last error fails the task.
    options: any other Celery task option.
    """

    def decorate(func: Callable[..., Any]) -> Task:
        task_name_check(name, func)

        def run(self: Task, *args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except retry_on as error:
                retries = self.request.retries
                if retries < max_retries:
                    countdown = backoff_seconds(
                        retries=retries, base_s=backoff_base_s, cap_s=backoff_cap_s
                    )
                    raise self.retry(exc=error, countdown=countdown) from error
                if give_up is None:
                    raise
                give_up(*args, error=error, **kwargs)
                return None

        # Celery names the task class and checks call arguments from these.
        run.__name__, run.__qualname__ = func.__name__, func.__qualname__
        run.__module__, run.__doc__ = func.__module__, func.__doc__
        signature = inspect.signature(func)
        # Functions have no declared `__signature__`, yet inspect reads it first.
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[
                inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
                *signature.parameters.values(),
            ]
        )
        return shared_task(
            name=name,
            bind=True,
            # None (the default queue) is what Celery takes; its stub allows only str.
            queue=queue or None,  # type: ignore[arg-type]
            max_retries=max_retries,
            retry_on=retry_on,
            give_up=staticmethod(give_up) if give_up else None,
            **options,
        )(run)

    return decorate
