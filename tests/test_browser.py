"""The draw page in a real browser: headless Chromium (Debian's `chromium` package with its
`chromedriver`, driven by Selenium -- never a downloaded browser) draws a 7 with mouse
events and must show the digit, and the very numbers, that `digitnet classify` gives
for the same picture.

Skipped when no Chromium is installed, unless DIGITNET_REQUIRE_BROWSER=1 (CI sets it,
after `apt-get install -y chromium chromium-driver`). DIGITNET_SCREENSHOT=FILE.png keeps
the screenshot (the README's picture is made so).
"""

import base64
import json
import os
import shutil
import threading
import time

import pytest

from digitnet.server import DrawApp, make_server
from helpers import run


def _find(*names):
    for n in names:
        p = shutil.which(n) or (os.path.exists(f"/usr/bin/{n}") and f"/usr/bin/{n}")
        if p:
            return p
    return None


CHROMIUM = _find("chromium", "chromium-browser")
DRIVER = _find("chromedriver")
try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

_missing = [what for what, ok in [("chromium", CHROMIUM), ("chromedriver", DRIVER),
                                  ("selenium", HAVE_SELENIUM)] if not ok]
if _missing and os.environ.get("DIGITNET_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"DIGITNET_REQUIRE_BROWSER=1 but {', '.join(_missing)} missing")
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"no {', '.join(_missing)}")


class CountingApp(DrawApp):
    """The real app, counting classify requests and how many ran at once."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls = self.running = self.most = 0
        self.count_lock = threading.Lock()

    def classify(self, body, query):
        with self.count_lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return super().classify(body, query)
        finally:
            with self.count_lock:
                self.running -= 1


@pytest.fixture(scope="module")
def page():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    app = CountingApp("default")
    srv = make_server(app, 0)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    options = Options()
    options.binary_location = CHROMIUM
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1440,1000", "--force-device-scale-factor=1"]:
        options.add_argument(a)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    try:
        driver.get(f"http://127.0.0.1:{srv.server_address[1]}/")
        yield driver, app
    finally:
        driver.quit()
        srv.shutdown()
        srv.server_close()


def wait_for(driver, condition, timeout=15):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def draw_seven(driver):
    """A 7 with real mouse events: the bar left to right, then the stem down-left."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    pad = driver.find_element(By.ID, "pad")
    a = ActionChains(driver, duration=25)
    a.move_to_element_with_offset(pad, -70, -90).click_and_hold()
    for x in range(-70, 71, 10):
        a.move_to_element_with_offset(pad, x, -90)
    for t in range(1, 17):
        a.move_to_element_with_offset(pad, 70 - t * 6, -90 + t * 11)
    a.release().perform()


def test_drawing_a_seven_shows_what_classify_says(page, tmp_path):
    from selenium.webdriver.common.by import By
    driver, app = page
    wait_for(driver, lambda d: d.find_element(By.ID, "model").get_attribute("value"))
    t0 = time.perf_counter()
    draw_seven(driver)
    drawing = time.perf_counter() - t0
    answer = driver.find_element(By.ID, "answer")
    wait_for(driver, lambda d: answer.get_attribute("data-digit") != ""
             and not d.execute_script("return window.digitnet.inFlight || window.digitnet.dirty"))
    shown = int(answer.get_attribute("data-digit"))
    # The picture the page sent, classified by the command line:
    url = driver.execute_script("return window.digitnet.sentPNG()")
    png = tmp_path / "drawn.png"
    png.write_bytes(base64.b64decode(url.split(",", 1)[1]))
    cli = json.loads(run("classify", "--json", png).stdout)
    assert shown == cli["digit"] == 7
    last = driver.execute_script("return window.digitnet.last")
    assert last["outputs"] == cli["outputs"] and last["layers"] == cli["layers"]
    assert f"answer: {cli['digit']}" in answer.text
    # Live but throttled: never two requests at once, never one per mouse event.
    assert app.most == 1
    assert 1 <= app.calls <= drawing / 0.05 + 3
    # Point at a hidden neuron: its numbers appear, equal to inspect-layer's.
    pos = driver.execute_script("return window.digitnet.positions[2][5]")
    net = driver.find_element(By.ID, "net")
    from selenium.webdriver.common.action_chains import ActionChains
    w, h = net.size["width"], net.size["height"]
    ActionChains(driver).move_to_element_with_offset(
        net, pos[0] * w / 640 - w / 2, pos[1] * h / 440 - h / 2).click().perform()
    wait_for(driver, lambda d: "neuron 5" in d.find_element(By.ID, "neuron-title").text
             and d.find_element(By.ID, "numbers").text.count("\n") >= 3
             and len(d.find_elements(By.CSS_SELECTOR, "#top canvas")) == 8)
    view = json.loads(run("inspect-layer", 2, "--neuron", 5, "--image", png, "--json").stdout)
    numbers = driver.find_element(By.ID, "numbers").text
    assert f"{view['image']['z'][0]:.4f}" in numbers
    assert f"{view['image']['activations'][0]:.4f}" in numbers
    shot = os.environ.get("DIGITNET_SCREENSHOT") or str(tmp_path / "draw.png")
    assert driver.save_screenshot(shot)
    assert os.path.getsize(shot) > 10_000
    # Break it: the output layer's weights to 0 -> every output is sigmoid(bias).
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, "zero-layer")).select_by_value("3")
    wait_for(driver, lambda d: d.execute_script(
        "const s = window.digitnet; return !s.inFlight && !s.dirty && s.last && "
        "s.last.outputs.join() !== arguments[0]", ",".join(map(str, cli["outputs"]))))
    Select(driver.find_element(By.ID, "zero-layer")).select_by_value("")
    wait_for(driver, lambda d: d.execute_script(
        "const s = window.digitnet; return !s.inFlight && !s.dirty && s.last && "
        "s.last.digit === 7"))
    # Clear: no answer, no request.
    calls = app.calls
    driver.find_element(By.ID, "clear").click()
    wait_for(driver, lambda d: answer.get_attribute("data-digit") == "")
    assert app.calls == calls
    logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
            and "422" not in e["message"]]          # a stroke too small is "no digit found"
    assert logs == []
