"""The Dagster UI as a new user sees it after `make run` then `make dev`, in a real browser.

Headless Chromium (Debian's `chromium` and `chromium-driver`) driven through WebDriver. Run by
`make e2e`, which installs both; marked `e2e`, so the ordinary test runs leave it out.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sync_assets.sandbox.server import free_port

pytestmark = pytest.mark.e2e

COMMAND = str(Path(sys.executable).with_name("sync-assets"))
GROUPS = ("rdvsp", "doctolib", "coop", "analytics", "sync")


@dataclass(frozen=True)
class Ui:
    url: str
    log: Path  # the output of `sync-assets dev` (webserver and daemon)
    demo_output: str  # what `sync-assets demo` printed

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """The demo's data in a folder of its own, and `sync-assets dev` serving the UI on it."""
    folder = tmp_path_factory.mktemp("e2e")
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("RDVSP_", "DOCTOLIB_", "DAGSTER_", "SYNC_"))
    }
    environment["SYNC_LOCAL_DIR"] = str(folder / "local")
    demo = subprocess.run([COMMAND, "demo"], env=environment, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    port, log = free_port(), open(folder / "dev.log", "w")  # noqa: SIM115  (closed with the server)
    dev = subprocess.Popen(
        [COMMAND, "dev", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert dev.poll() is None and time.monotonic() < deadline, (folder / "dev.log").read_text()[-3000:]
            time.sleep(1)
        yield Ui(url, folder / "dev.log", demo.stdout + demo.stderr)
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
        log.close()
        subprocess.run([COMMAND, "db", "stop"], env=environment, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail(
            "Chromium and its WebDriver are needed: `make e2e` installs them (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # Tall, so that the catalog's list (which renders only the rows in view) shows every asset.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,4000"):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


def page_text(browser, url: str, until, seconds: float = 60) -> str:
    """The page's text once `until(text)` holds (the UI renders after it loads its data)."""
    browser.get(url)
    deadline = time.monotonic() + seconds
    while True:
        _dismiss_welcome(browser)
        text = browser.find_element("tag name", "body").text
        if until(text):
            return text
        if time.monotonic() > deadline:
            browser.save_screenshot(str(Path(os.environ.get("E2E_SCREENSHOTS", "/tmp")) / "sync_assets_e2e.png"))
            pytest.fail(f"{url} did not show what was expected; it shows:\n{text[:3000]}")
        time.sleep(0.5)


def _dismiss_welcome(browser) -> None:
    for button in browser.find_elements("xpath", "//button[normalize-space()='Skip']"):
        if button.is_displayed():
            button.click()


def test_the_asset_graph_shows_every_group_all_materialized(ui, browser):
    lineage = page_text(browser, f"{ui.url}/asset-groups", lambda text: all(g in text for g in GROUPS))
    nodes = [e.text for e in browser.find_elements("xpath", "//*[normalize-space(text())='rdvsp']")]
    assert len(nodes) >= 2, lineage  # the group in the side list, and its node in the graph
    catalog = page_text(
        browser,
        f"{ui.url}/assets?view=flat",
        lambda text: "rdvsp / rdvs" in text and "Materialized" in text and "Loading" not in text,
    )
    from sync_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    unpartitioned = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is None]
    assert catalog.count("Materialized") == len(unpartitioned) == 8  # schema, beneficiaries, the views, sync history
    assert "Failed" not in catalog, catalog
    runs = page_text(browser, f"{ui.url}/runs", lambda text: "rdvsp_sync" in text and "doctolib_sync" in text)
    assert "Failure" not in runs, runs


def test_the_latest_materialization_of_rdvsp_rdvs_shows_its_metadata(ui, browser):
    text = page_text(browser, f"{ui.url}/assets/rdvsp/rdvs", lambda text: "Row count" in text and "drift" in text)
    for shown in (
        "Row count",
        "Columns",
        "starts_at",
        "timestamp with time zone",
        "created",
        "updated",
        "deleted",
        "noop",
        "drift",
        "drift_by_organisation",
        "Postgres",
        "data-engineering",
    ):
        assert shown in text, shown


def test_the_schedules_and_sensors_tick_without_error_on_the_demo_data(ui):
    """RDVSP_* and DOCTOLIB_* are unset for `make dev`: the sensors that need them skip, naming
    the variable, rather than fail or launch runs that would."""
    deadline = time.monotonic() + 120
    ticked = ("sensor: doctolib_practice_partitions", "sensor: rdvsp_failed_webhook_organisations")
    while not all(sensor in ui.log_text() for sensor in ticked):
        assert time.monotonic() < deadline, ui.log_text()[-3000:]
        time.sleep(1)
    assert "caught an error" not in ui.log_text(), ui.log_text()[-3000:]
    assert "Creating new run" not in ui.log_text(), ui.log_text()[-3000:]


def test_neither_the_demo_nor_the_ui_prints_a_warning(ui):
    """Python's warnings (BetaWarning, SupersessionWarning…) and Dagster's own WARNING lines: none
    caused by our definitions or our commands reaches a newcomer's terminal."""
    warning = re.compile(r"\w+Warning: |dagster - WARNING")
    assert not warning.findall(ui.demo_output), ui.demo_output[-3000:]
    time.sleep(5)  # the daemon's first sensor ticks
    assert not warning.findall(ui.log_text()), ui.log_text()[-3000:]
