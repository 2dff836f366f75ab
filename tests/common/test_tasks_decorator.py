"""common.task_decorator.sluice_task, run eagerly (`apply()` runs the task and its retries in
this process, the way a worker would, without a broker)."""

import pytest
from django.db import OperationalError

from common.task_decorator import backoff_seconds, sluice_task
from config.celery import app

attempts: list[tuple] = []
given_up: list[tuple] = []


def _record_give_up(number: int, *, label: str = "", error: Exception) -> None:
    given_up.append((number, label, error))


@sluice_task(name="tests.fail_twice", max_retries=3)
def fail_twice(number: int) -> int:
    attempts.append((number,))
    if len(attempts) <= 2:
        raise OperationalError("server closed the connection unexpectedly")
    return number * 2


@sluice_task(name="tests.fail_always", max_retries=2, give_up=_record_give_up)
def fail_always(number: int, *, label: str = "") -> int:
    attempts.append((number, label))
    raise OperationalError("the database system is shutting down")


@sluice_task(name="tests.fail_always_without_hook", max_retries=2)
def fail_always_without_hook() -> None:
    attempts.append(())
    raise OperationalError("terminating connection due to administrator command")


@sluice_task(name="tests.fail_with_a_bug", give_up=_record_give_up)
def fail_with_a_bug(number: int) -> None:
    attempts.append((number,))
    raise ValueError("not transient")


@sluice_task(name="tests.send_elsewhere", queue="elsewhere")
def send_elsewhere() -> None:
    pass


@pytest.fixture(autouse=True)
def _fresh_records():
    attempts.clear()
    given_up.clear()


def test_sluice_task_retries_a_transient_error_then_succeeds():
    result = fail_twice.apply(args=[21])

    assert result.get() == 42
    assert len(attempts) == 3


def test_sluice_task_calls_give_up_with_the_arguments_once_retries_run_out():
    result = fail_always.apply(args=[7], kwargs={"label": "x"})

    assert result.successful()  # the hook settled it
    assert attempts == [(7, "x")] * 3  # the first run and max_retries=2 retries
    [(number, label, error)] = given_up
    assert (number, label) == (7, "x")
    assert isinstance(error, OperationalError)
    assert "shutting down" in str(error)


def test_sluice_task_without_give_up_fails_once_retries_run_out():
    result = fail_always_without_hook.apply()

    assert result.failed()
    assert isinstance(result.result, OperationalError)
    assert len(attempts) == 3


def test_sluice_task_does_not_retry_other_errors():
    result = fail_with_a_bug.apply(args=[1])

    assert result.failed()
    assert isinstance(result.result, ValueError)
    assert attempts == [(1,)]
    assert given_up == []


@pytest.mark.parametrize(
    "name",
    [
        "tests.run",  # no noun
        "tests.tasks.run_chunk",  # the module path is not the name
        "Tests.Run_Chunk",
        "enrichment.run_chunk",  # another app's name
        "tests.run_another_chunk",  # not the function's name
    ],
)
def test_sluice_task_name_must_be_app_dot_verb_noun(name):
    def run_chunk() -> None:
        pass

    run_chunk.__module__ = "tests.common.test_tasks_decorator"
    with pytest.raises(ValueError, match="Task name"):
        sluice_task(name=name)(run_chunk)


def test_sluice_task_declares_its_queue():
    assert send_elsewhere.queue == "elsewhere"
    assert fail_twice.queue is None  # the default queue


def test_sluice_task_checks_call_arguments_before_publishing():
    with pytest.raises(TypeError):
        fail_twice.delay(1, 2)


def test_sluice_task_backoff_is_exponential_with_full_jitter_and_capped():
    for retries in range(12):
        bound = min(60.0, 1.0 * 2**retries)
        delays = [backoff_seconds(retries=retries, base_s=1.0, cap_s=60.0) for _ in range(200)]
        assert all(0 <= delay <= bound for delay in delays)
        assert max(delays) > bound / 2  # spread over the whole range, not a fixed delay


def test_sluice_task_is_every_apps_task_decorator():
    app.loader.import_default_modules()
    ours = {
        name: task
        for name, task in app.tasks.items()
        if not name.startswith("celery.") and not name.startswith("tests.")
    }

    assert "enrichment.run_chunk" in ours
    for name, task in ours.items():
        # sluice_task's marks: its retry policy, its give-up hook slot, a checked name
        assert hasattr(task, "retry_on"), name
        assert hasattr(task, "give_up"), name
        assert name.split(".")[0] == task.__module__.split(".")[0], name
