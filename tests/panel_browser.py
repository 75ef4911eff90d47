"""What the panel tests share: Debian's headless Chromium driven by selenium, waits with a
deadline, screenshots kept for people to look at, and `livevoice ctl` as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "panel"
"""Screenshots of this run (gitignored); the terminal summary lists them."""
SAVED: list[Path] = []

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

T = TypeVar("T")


@contextmanager
def chromium(width: int = 1100, height: int = 1400) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, its viewport ``width`` x ``height`` CSS px."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail("no Chromium: install chromium and chromium-driver (scripts/system-deps.sh test)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let selenium look for a browser or driver online
    profile = tempfile.mkdtemp(prefix="livevoice-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={max(width, 500)},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        set_viewport(driver, width, height)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_viewport(driver: Any, width: int, height: int = 1400) -> None:
    """Emulate a viewport of exactly this size (headless windows have a minimum width)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def wait_until(driver: Any, condition: Callable[[Any], T], timeout_s: float = 15.0, what: str = "") -> T:
    """Poll ``condition(driver)`` until it is truthy; fail after ``timeout_s`` saying ``what``."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        result: T = WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(condition)
    except TimeoutException:
        logs = [entry["message"] for entry in driver.get_log("browser")]
        raise AssertionError(f"timed out waiting for {what or condition}; browser console: {logs}") from None
    return result


def wait_js(driver: Any, expression: str, timeout_s: float = 15.0) -> Any:
    """Wait until the JavaScript ``expression`` is truthy in the page; its value."""
    return wait_until(driver, lambda d: d.execute_script(f"return ({expression});"), timeout_s, expression)


def settled(driver: Any) -> None:
    """Wait until the page has no request to the daemon waiting for its answer."""
    wait_js(driver, "document.body.dataset.pending === '0'")


def text_of(driver: Any, selector: str) -> str:
    text: str = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", selector
    )
    return text


def screenshot(driver: Any, name: str) -> Path:
    """Save the whole page as ``test-artifacts/panel/NAME.png``; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    width, height = driver.execute_script(
        "return [window.innerWidth, Math.ceil(document.querySelector('footer').getBoundingClientRect().bottom"
        " + window.scrollY) + 8];"
    )
    set_viewport(driver, width, height)  # as tall as the page, no taller
    assert driver.save_screenshot(str(path)), f"no screenshot {path}"
    SAVED.append(path)
    return path


def ctl(port: int, secret_file: Path, request: str, data: dict[str, Any] | None = None) -> Any:
    """``livevoice ctl --port PORT --secret-file FILE REQUEST [JSON]`` as a user runs it; its JSON answer."""
    args = [sys.executable, "-m", "livevoice.cli", "ctl", "--port", str(port)]
    args += ["--secret-file", str(secret_file), request]
    if data is not None:
        args.append(json.dumps(data))
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class ControlOnly:
    """``livevoice --config FILE run --control-only`` as a user starts it (a real process)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> ControlOnly:
        import re
        import select

        args = [sys.executable, "-m", "livevoice.cli", "--config", str(self.config), "run", "--control-only"]
        self.log = (self.config.parent / "control-only.log").open("w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while "listening on" not in line:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            assert ready, "the control-only daemon did not start within 60 s"
            line = self.proc.stdout.readline()
            log = (self.config.parent / "control-only.log").read_text()
            assert line, f"the control-only daemon exited: {log}"
        found = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
        assert found, line
        self.port = int(found.group(1))
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
