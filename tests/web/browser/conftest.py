"""Browser tests: the real app served by uvicorn on a free port, driven by headless Chromium at 375 px.

Playwright drives Debian's ``/usr/bin/chromium`` (no ``playwright install``; set
``RAPPORT_CHROMIUM`` to use another binary). Without Playwright or Chromium the tests are skipped
with the reason — except in CI (``CI=true``), where that is a failure.

The server runs in a thread of the test process, so it shares the test's database (the ``db``
fixture, SQLite or PostgreSQL) and its fixed clock. Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PHONE = {"width": 375, "height": 740}


def _chromium() -> str | None:
    configured = os.environ.get("RAPPORT_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI runs the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    path = _chromium()
    if path is None:
        _unavailable("no Chromium found (apt install chromium, or set RAPPORT_CHROMIUM)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def playwright_browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(db: Any) -> Iterator[str]:
    """The app on http://127.0.0.1:<free port>, over the test database; stopped after the test."""
    import uvicorn

    from rapport.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def phone(playwright_browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh phone-sized page (375 x 740, touch) on the live server; console errors are collected."""
    context = playwright_browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=live_server, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Any:
    """``screenshot(page, "01-search")`` → test-output/screenshots/<test>-<engine>-01-search.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("[", "-").replace("]", "")

    def take(page: Any, step: str, *, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}-{step}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
