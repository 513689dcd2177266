"""The HTML report opened in headless Chromium (Debian's package, driven by Playwright): it loads
without errors, shows the findings summary with every finding, its figures decode, and text
from the request cannot inject markup."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.report import render_report
from grid_models.results import StudyResult
from grid_models.spec import StudySpec

ROOT = Path(__file__).parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# as root in a closed network: no sandbox, no background connections (they are refused here)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def result(catalog_grid: Callable[[str], Grid]) -> StudyResult:
    spec = json.loads((ROOT / "examples" / "illinois_gpus.json").read_text())
    spec["name"] = 'Illinois <script>document.title="owned"</script> & co'
    return run_study(StudySpec.model_validate(spec), catalog_grid("activsg200"))


@pytest.fixture(scope="module")
def page(result: StudyResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, list[str]]]:
    from playwright.sync_api import sync_playwright

    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(result), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        opened = browser.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        opened.goto(path.as_uri())
        yield opened, errors
        browser.close()


def test_the_page_opens_without_errors_and_shows_every_finding(page: tuple[object, list[str]], result: StudyResult) -> None:
    opened, errors = page
    assert errors == []
    rows = opened.locator("#findings-summary tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == len(result.findings) > 0
    assert opened.locator("#findings-summary").is_visible()  # type: ignore[attr-defined]
    severities = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    order = ["critical", "violation", "warning", "info"]
    assert severities == sorted(severities, key=order.index)


def test_figures_decode_and_every_section_is_there(page: tuple[object, list[str]]) -> None:
    opened, _ = page
    widths = opened.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")  # type: ignore[attr-defined]
    assert len(widths) >= 5
    assert all(w > 0 for w in widths)
    for section in ("overview", "findings", "grid", "environment", "assumptions", "provenance", "sources"):
        assert opened.locator(f"section#{section}").count() == 1, section  # type: ignore[attr-defined]
    assert opened.locator("#factors tbody tr").count() > 50  # type: ignore[attr-defined]
    assert "screening, not a permit determination" in opened.inner_text("#environment").lower()  # type: ignore[attr-defined]


def test_request_text_is_shown_not_run(page: tuple[object, list[str]]) -> None:
    opened, _ = page
    assert opened.title() != "owned"
    assert "<script>" in opened.title()
    assert opened.locator("script").count() == 0  # type: ignore[attr-defined]
