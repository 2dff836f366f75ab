from collections.abc import Callable, Iterable

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import ApiKey, Workspace
from accounts.scopes import ALL_SCOPES
from config.runtime import dirs_create, runtime_dirs
from tests.factories import ApiKeyFactory, WorkspaceFactory
from tests.workers import wait_until_idle


def pytest_collection_modifyitems(config, items) -> None:
    """Work units for pytest-xdist (`make test` runs `--dist loadgroup`): each test is a unit of
    its own, except the tests that start and kill their own workers (`sole_consumer`), which one
    process runs one after another (they load the machine most, and its session worker then
    steps aside once instead of for each), and the modules whose module-scoped fixtures start
    servers (the browser, a fake S3), which one process runs whole so it starts them once.
    xdist sends the largest units out first."""
    for item in items:
        if "sole_consumer" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("own-workers"))
        elif _uses_module_scoped_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def _uses_module_scoped_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return bool(info) and any(
        defs[-1].scope in ("module", "package", "class") for defs in info.name2fixturedefs.values()
    )


@pytest.fixture(scope="session", autouse=True)
def _runtime_dirs() -> None:
    # The test client serves requests as the web process does, which creates its folders
    # (uploads) when it starts.
    dirs_create(runtime_dirs())


@pytest.fixture(autouse=True)
def _shared_workers_idle_before_flush(request):
    """A test on the transactional database whose requests enqueue real work (a retried run, a
    webhook) while a session worker of this process is running: the worker may still be on it
    when the test's flush (TRUNCATE) comes, and the two deadlock. The flush waits until the
    shared workers are idle (no wait when none runs)."""
    marker = request.node.get_closest_marker("django_db")
    marked = bool(marker and marker.kwargs.get("transaction"))
    requested = bool({"transactional_db", "live_server"} & set(request.fixturenames))
    if requested:
        request.getfixturevalue("transactional_db")  # set up first: flushed after this waits
    yield
    if (marked or requested) and "worker" not in request.fixturenames:  # `worker` waits itself
        wait_until_idle()


@pytest.fixture
def redis_client() -> redis.Redis:
    """The test Redis database, emptied before the test so state never leaks between tests."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    return client


@pytest.fixture(autouse=True)
def _clear_cache(settings) -> None:
    # Throttle counters live in the cache; every test starts with a fresh budget.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def workspace(db) -> Workspace:
    return WorkspaceFactory()


@pytest.fixture
def other_workspace(db) -> Workspace:
    return WorkspaceFactory()


def client_for(api_key: ApiKey) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.raw_key}")
    client.api_key = api_key
    return client


@pytest.fixture
def make_client(db) -> Callable[..., APIClient]:
    """`make_client(workspace, scopes=[...])` → an APIClient sending that key."""

    def make(workspace: Workspace, scopes: Iterable[str] = ALL_SCOPES) -> APIClient:
        return client_for(ApiKeyFactory(workspace=workspace, scopes=list(scopes)))

    return make


@pytest.fixture
def api(make_client, workspace) -> APIClient:
    """A client holding every scope in `workspace`."""
    return make_client(workspace)


@pytest.fixture
def other_api(make_client, other_workspace) -> APIClient:
    return make_client(other_workspace)
