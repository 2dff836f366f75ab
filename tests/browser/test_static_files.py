"""Static files in a real browser: Swagger UI renders the operations at /api/v2/docs and the
admin's stylesheet applies, on every way Sluice serves HTTP (runserver on the local profile, as
`make run` and the demo do; gunicorn on the production profile, as the Docker image does)."""

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from credits.services import hold_settle_for_review
from tests.credits.factories import grant, place
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.browser

SERVERS = ["local_server", "production_server"]
# Defined by the admin's base.css only: empty when the stylesheet did not load.
ADMIN_STYLE = """
const root = getComputedStyle(document.documentElement);
const header = document.querySelector('#header');
return {
    headerBgVariable: root.getPropertyValue('--header-bg').trim(),
    headerBackground: header ? getComputedStyle(header).backgroundColor : null,
    bodyMargin: getComputedStyle(document.body).margin,
};
"""


def _wait(browser: WebDriver, condition, timeout: float = 30):
    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(condition)


def _assert_admin_styled(browser: WebDriver) -> None:
    style = browser.execute_script(ADMIN_STYLE)
    assert style["headerBgVariable"], style
    assert style["headerBackground"] not in (None, "rgba(0, 0, 0, 0)"), style
    # a browser's own default body margin is 8px; the admin's stylesheet sets 0
    assert style["bodyMargin"] == "0px", style


@pytest.mark.parametrize("server_name", SERVERS)
def test_static_files_swagger_ui_renders_every_operation(
    request, browser, screenshot_dir, server_name
):
    server = request.getfixturevalue(server_name)
    spec = requests.get(f"{server.base}/api/v2/schema", {"format": "json"}, timeout=30).json()
    operations = sum(len(item) for item in spec["paths"].values())

    browser.get(f"{server.base}/api/v2/docs")

    rendered = _wait(
        browser,
        lambda b: (
            len(found := b.find_elements(By.CSS_SELECTOR, ".opblock")) == operations and found
        ),
    )
    assert operations > 20
    assert len(rendered) == operations
    assert "Sluice API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    if server_name == "local_server":
        browser.save_screenshot(str(screenshot_dir / "api-docs.png"))


@pytest.mark.parametrize("server_name", SERVERS)
def test_static_files_admin_login_is_styled(request, browser, server_name):
    server = request.getfixturevalue(server_name)

    browser.get(f"{server.base}/admin/login/")

    _wait(browser, lambda b: b.find_elements(By.ID, "id_username"))
    _assert_admin_styled(browser)


@pytest.mark.django_db(transaction=True)
def test_static_files_refund_review_queue_is_styled(local_server, browser, screenshot_dir):
    # given an operator and one run whose unused credits await review
    operator = get_user_model().objects.create_superuser("operator", "operator@example.com")
    # hashed as the server's profile checks it (the test profile hashes with MD5 only)
    hasher = PBKDF2PasswordHasher()
    operator.password = hasher.encode("review-pw", hasher.salt())
    operator.save(update_fields=["password"])
    workspace = WorkspaceFactory(name="Acme")
    grant(workspace, 1000)
    hold = place(workspace, 220, workflow_id="bulk-enrich-3f9c2a")
    hold_settle_for_review(hold_id=hold.pk, charge=140, reason="provider outage: hunter 503")
    # when the operator logs in and opens the queue
    browser.get(f"{local_server.base}/admin/login/?next=/admin/credits/refundreview/")
    browser.find_element(By.ID, "id_username").send_keys("operator")
    browser.find_element(By.ID, "id_password").send_keys("review-pw")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # then the queue lists the run, styled
    rows = _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"))
    assert len(rows) == 1
    assert "bulk-enrich-3f9c2a" in rows[0].text
    assert "provider outage: hunter 503" in rows[0].text
    _assert_admin_styled(browser)
    browser.save_screenshot(str(screenshot_dir / "refund-review-queue.png"))
