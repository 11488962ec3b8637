"""What every browser test checks on a page: a screenshot to look at, no critical or serious
axe-core violation (axe-core bundled by axe-playwright-python), and nothing wider than the
screen."""

import os
from contextlib import contextmanager
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright import sync_api as playwright

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
BLOCKING = {"critical", "serious"}
AXE = Axe()


def check(page, name: str, *, folder: str = "journeys") -> None:
    (ARTIFACTS / folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / folder / f"{name}.png"), full_page=True)
    results = AXE.run(page)
    blocking = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]
    assert blocking == [], f"{name}: {blocking}"
    wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wider <= 0, f"{name}: {wider}px wider than the screen"


CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium():
    """Debian's Chromium through Playwright's sync API, for a module-scoped fixture.

    Playwright's sync API runs an event loop in this thread; the test's own ORM calls stay
    synchronous and safe (the documented pytest-playwright set-up), hence the variable."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
            )
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
