"""The playground page in Chromium: controls, training, the URL hash, your own data, export, backprop.

Run: python -m pytest tests_browser (Playwright + Debian's chromium; skipped without them).
The screenshots in docs/images/ are taken here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
WAIT = 30  # seconds: the machine may be busy; the thresholds are reached in a few seconds alone


def open_page(page, server, hash_part=""):
    page.goto(server.url + hash_part)
    page.wait_for_function("() => typeof state !== 'undefined' && state !== null")


def epoch(page) -> int:
    return int(page.inner_text("#epoch").replace(",", ""))


def shown_test_loss(page) -> float:
    text = page.inner_text("#test-loss")
    return float(text) if text not in ("–", "") else float("inf")


def plane_pixels(page) -> list[int]:
    return page.evaluate("""() => {
        const c = document.getElementById('plane');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 97 == 0));
    }""")


def wait_for(page, condition, what):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"waited {WAIT} s for {what}; epoch {page.inner_text('#epoch')}, test loss "
                         f"{page.inner_text('#test-loss')}")


def settle(page):
    """Wait until the page has drawn the server's answer to the last change."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(150)


@pytest.mark.parametrize("dataset", ["circle", "xor"])
def test_play_trains_until_the_test_loss_is_low(page, server, dataset):
    open_page(page, server)
    if dataset == "circle":  # what a student sees first
        assert page.inner_text("#epoch") == "0" and page.input_value("#dataset") == "circle"
        page.screenshot(path=str(IMAGES / "playground-start.png"), full_page=True)
    page.select_option("#dataset", dataset)
    settle(page)
    page.select_option("#activation", "relu")
    settle(page)
    page.get_by_role("button", name="Add a hidden layer").click()
    settle(page)
    page.select_option("#learningRate", "0.1")
    settle(page)
    assert page.locator(".layer").count() == 5  # features, 3 hidden layers, output
    assert epoch(page) == 0
    before = plane_pixels(page)
    page.get_by_role("button", name="▶ Play").click()
    wait_for(page, lambda: epoch(page) > 3, "the epoch count to rise")
    wait_for(page, lambda: shown_test_loss(page) < 0.05, "the test loss to fall below 0.05")
    page.get_by_role("button", name="❚❚ Pause").click()
    settle(page)
    assert plane_pixels(page) != before
    state = page.evaluate("state")
    assert state["settings"]["dataset"] == dataset and state["settings"]["networkShape"] == [4, 2, 2]
    assert state["settings"]["activation"] == "relu" and state["settings"]["learningRate"] == 0.1
    if dataset == "circle":
        page.check("#showTestData")
        page.screenshot(path=str(IMAGES / "playground-circle.png"), full_page=True)
    assert not page.errors


def test_a_shared_link_restores_the_settings(page, server, browser):
    open_page(page, server)
    page.select_option("#dataset", "spiral")
    settle(page)
    page.fill("#classes", "3")
    page.press("#classes", "Enter")
    settle(page)
    page.select_option("#optimizer", "adam")
    settle(page)
    page.select_option("#regularization", "L2")
    settle(page)
    page.select_option("#regularizationRate", "0.001")
    settle(page)
    page.check("#feature-sinX")
    settle(page)
    page.get_by_role("button", name="Add a neuron to hidden layer 1").click()
    settle(page)
    page.check("#discretize")
    link = page.url
    assert "dataset=spiral" in link and "networkShape=5,2" in link and "sinX=true" in link
    assert "optimizer=adam" in link and "discretize=true" in link
    shared = browser.new_page()
    shared.goto(link)
    shared.wait_for_function("() => state !== null && state.settings.dataset === 'spiral'")
    for control, value in {"#dataset": "spiral", "#classes": "3", "#optimizer": "adam", "#regularization": "L2",
                           "#regularizationRate": "0.001"}.items():
        assert shared.input_value(control) == value, control
    assert shared.is_checked("#feature-sinX") and shared.is_checked("#discretize")
    assert shared.evaluate("state.settings.networkShape") == [5, 2]
    assert shared.evaluate("state.classCount") == 3
    shared.close()
    hidden = browser.new_page()
    hidden.goto(server.url + "#dataset=xor&noise_hide=true&learningRate_hide=true&xSquared_hide=true")
    hidden.wait_for_function("() => state !== null && state.settings.dataset === 'xor'")
    assert not hidden.is_visible("#noise") and not hidden.is_visible("#learningRate")
    assert not hidden.is_visible("#feature-xSquared") and hidden.is_visible("#feature-ySquared")
    assert hidden.is_visible("#batchSize")
    hidden.close()
    broken = browser.new_page()
    broken.goto(server.url + "#networkShape=4,99")
    broken.wait_for_function("() => state !== null && document.getElementById('message').textContent !== ''")
    assert "at most 16 neurons in a layer, got 99" in broken.inner_text("#message")
    assert broken.evaluate("state.settings.networkShape") == [4, 2]  # the defaults, with the reason shown
    broken.close()


def test_many_classes_screenshot(page, server):
    open_page(page, server, "#dataset=spiral&classes=3&networkShape=8,8&optimizer=adam&learningRate=0.03"
                            "&activation=relu&sinX=true&sinY=true")
    page.get_by_role("button", name="▶ Play").click()
    wait_for(page, lambda: epoch(page) >= 60, "60 epochs")
    page.get_by_role("button", name="❚❚ Pause").click()
    settle(page)
    assert page.evaluate("state.output.classes") is not None
    page.screenshot(path=str(IMAGES / "playground-spiral.png"), full_page=True)


def test_clicked_points_and_a_csv_become_the_data(page, server):
    open_page(page, server)
    page.get_by_role("button", name="Clear all points").click()
    settle(page)
    assert page.evaluate("points.train.length + points.test.length") == 0
    plane = page.locator("#plane")
    plane.click(position={"x": 60, "y": 60})
    settle(page)
    plane.click(position={"x": 240, "y": 240}, modifiers=["Shift"])
    settle(page)
    plane.click(position={"x": 240, "y": 60})
    settle(page)
    train = page.evaluate("points.train")
    assert len(train) == 3 and page.input_value("#dataset") == "custom"
    x1, x2, label = train[0]
    assert x1 == pytest.approx(-6 + 12 * 60 / 300, abs=0.1) and x2 == pytest.approx(6 - 12 * 60 / 300, abs=0.1)
    assert [p[2] for p in train] == [1, 0, 1]  # click: the chosen class (1, blue); shift-click: the other
    page.focus("#plane")  # the keyboard: a cross at (0, 0), arrows move it by 0.5, Enter adds a point
    for key in ("ArrowRight", "ArrowRight", "ArrowUp", "Shift+Enter"):
        page.keyboard.press(key)
    page.wait_for_function("() => points.train.length === 4")
    assert page.evaluate("points.train")[3] == [1.0, 0.5, 0]

    page.set_input_files("#csv-file", files=[{"name": "broken.csv", "mimeType": "text/csv",
                                              "buffer": b"x1,x2,label\n1,1,1\n1,1\n"}])
    page.wait_for_function("() => document.getElementById('message').textContent.includes('line 3')")
    assert "line 3: expected 3 values" in page.inner_text("#message")
    rows = "x1,x2,label\n" + "\n".join(f"{x},{y},{int(x > 0)}" for x in (-3, -2, 2, 3) for y in (-2, 0, 2))
    page.set_input_files("#csv-file", files=[{"name": "mine.csv", "mimeType": "text/csv", "buffer": rows.encode()}])
    page.wait_for_function("() => document.getElementById('message').textContent.includes('mine.csv')")
    assert page.inner_text("#message") == "read 12 points from mine.csv"
    assert page.input_value("#dataset") == "csv"
    assert page.evaluate("points.train.length + points.test.length") == 12


def test_export_runs_in_a_subprocess(page, server, tmp_path):
    open_page(page, server, "#dataset=gauss&learningRate=0.1")
    for _ in range(5):
        page.get_by_role("button", name="Step").click()
        settle(page)
    assert epoch(page) == 5
    shown = page.inner_text("#test-loss")
    for link, name in (("#export-py", "playground_model.py"), ("#export-weights", "playground_model.shenjing")):
        with page.expect_download() as download:
            page.click(link)
        download.value.save_as(tmp_path / name)
    run = subprocess.run([sys.executable, "playground_model.py"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=120)
    assert run.returncode == 0, run.stderr
    loss = float(re.search(r"test loss: ([\d.]+)", run.stdout).group(1))
    assert loss == pytest.approx(float(shown), abs=1e-3)


def test_backprop_view_weights_and_linear_lines(page, server):
    open_page(page, server, "#dataset=gauss&networkShape=3,2")
    page.get_by_role("button", name="Step").click()
    settle(page)
    page.check("#linearBoundaries")
    page.wait_for_function("() => document.getElementById('linear-info').textContent.includes('Perceptron')")
    assert "training accuracy 100%" in page.inner_text("#linear-info")

    page.locator('[data-node="1:0"]').click()
    page.fill("#editor-value", "0.5")
    page.press("#editor-value", "Enter")
    settle(page)
    assert page.evaluate("state.weights[0].bias[0]") == 0.5

    page.check("input[name=clickMode][value=backprop]")
    page.locator("#plane").click(position={"x": 200, "y": 100})
    page.wait_for_selector("#backprop:not([hidden])")
    assert page.locator("#backprop table").count() == 6  # two tables per weight layer
    assert "∂E/∂w" in page.inner_text("#backprop")
    assert page.locator(".node .bp").count() == 3 + 2 + 1
    page.locator("#backprop").scroll_into_view_if_needed()
    page.screenshot(path=str(IMAGES / "playground-backprop.png"), full_page=True)
    assert not page.errors


def test_a_request_from_another_page_is_refused(page, server):
    open_page(page, server)
    status = page.evaluate("""async () => {
        const r = await fetch('api/control', {method: 'POST', headers: {'Content-Type': 'text/plain'},
                                               body: '{"action": "play"}'});
        return [r.status, (await r.json()).error];
    }""")
    assert status[0] == 400 and "must carry JSON" in status[1]


def test_every_control_is_labelled(page, server):
    open_page(page, server)
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll('button, select, input')).filter(
        (e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()
    ).map((e) => e.outerHTML)""")
    assert unlabelled == []
    assert page.get_by_role("button", name="Step").is_visible()
    assert page.get_by_role("combobox", name="Activation of hidden layer 1").input_value() == "tanh"


def test_regression_trains_and_a_weight_line_is_editable(page, server):
    open_page(page, server)
    page.select_option("#problem", "regression")
    settle(page)
    assert page.is_visible("#regDataset") and not page.is_visible("#dataset")
    page.select_option("#learningRate", "0.1")
    settle(page)
    first = shown_test_loss(page)
    page.get_by_role("button", name="▶ Play").click()
    wait_for(page, lambda: shown_test_loss(page) < first / 4, "the regression loss to fall to a quarter")
    page.get_by_role("button", name="❚❚ Pause").click()
    settle(page)
    assert page.evaluate("state.classCount") == 0 and not page.is_visible("#accuracy-line")
    page.screenshot(path=str(IMAGES / "playground-regression.png"), full_page=True)

    line = page.locator("#links path.hit").first  # the weight from X₁ to neuron 1 of layer 1
    line.dispatch_event("click")
    assert "Weight from X₁ to neuron 1 of layer 1" in page.inner_text("#editor-label")
    page.fill("#editor-value", "-1.25")
    page.press("#editor-value", "Enter")
    settle(page)
    assert page.evaluate("state.weights[0].weight[0][0]") == -1.25
    page.focus('[data-node="2:1"]')
    page.keyboard.press("Enter")
    assert "Bias of neuron 2 of hidden layer 2" in page.inner_text("#editor-label")
    page.keyboard.type("0.3")
    page.keyboard.press("Enter")
    settle(page)
    assert page.evaluate("state.weights[1].bias[1]") == 0.3
    assert not page.errors
