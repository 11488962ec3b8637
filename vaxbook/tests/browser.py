"""What every browser test checks on a page: a screenshot to look at, no critical or serious
axe-core violation (axe-core bundled by axe-playwright-python), and nothing wider than the
screen."""

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from django.conf import settings

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
