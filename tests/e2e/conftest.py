"""Browser tests: pytest-playwright driving Debian's Chromium (never `playwright install`)."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def allow_async_unsafe():
    """live_server + sync Playwright (stack.md). Set from the first browser test on, not at
    import: the tests collected before it run without it (``check --deploy`` refuses the
    variable, async.E001). Once Playwright's loop runs it stays set for the session."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


VIOLATION_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const what = e.blockedURI || "inline";
  window.reportViolation(`${e.effectiveDirective} blocked ${what} on ${e.documentURI}`);
});
"""


@pytest.fixture(autouse=True)
def no_policy_violations(page):
    """Every page of every browser test keeps to the Content-Security-Policy (the browser's
    securitypolicyviolation events, reported back by an init script that the policy does not
    govern) and gets a Permissions-Policy header Chromium understands (its console says when
    not)."""
    problems: list[str] = []
    page.expose_binding("reportViolation", lambda source, text: problems.append(text))
    page.add_init_script(VIOLATION_LISTENER)

    def console(message):
        if "Content Security Policy" in message.text or "Permissions-Policy" in message.text:
            problems.append(message.text)

    page.on("console", console)
    yield problems
    page.wait_for_timeout(100)  # a violation of the last page's last moment
    assert problems == []


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("ESFCA_ARTIFACTS", "test-artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shoot(page, artifacts):
    def take(name: str) -> Path:
        path = artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests last: Playwright's session event loop (and the variable above) then
    never reaches the other tests."""
    e2e = Path(__file__).parent
    items.sort(key=lambda item: Path(str(item.path)).is_relative_to(e2e))
