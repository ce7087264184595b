"""A picture of an ONNX file as Netron draws it (a dev tool: needs netron, playwright and chromium).

    pip install netron playwright && apt-get install -y chromium
    python tools/netron_screenshot.py lenet5.onnx docs/images/netron-lenet5.png

Netron serves its viewer for the file on localhost; a headless chromium opens it, accepts the viewer's
cookie notice, waits for the graph and saves the page, cropped to the drawing.
"""

from __future__ import annotations

import argparse
import time

import netron
from PIL import Image, ImageChops
from playwright.sync_api import sync_playwright


def screenshot(model: str, out: str, port: int = 18765, browser_path: str = "/usr/bin/chromium") -> None:
    address = ("127.0.0.1", port)
    netron.start(model, address=address, browse=False)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 640, "height": 1200}, device_scale_factor=2)
            page.goto(f"http://{address[0]}:{port}/", wait_until="networkidle")
            time.sleep(3)
            if page.get_by_text("Accept").count():
                page.get_by_text("Accept").first.click()
            time.sleep(5)
            page.screenshot(path=out)
            browser.close()
    finally:
        netron.stop(address)
    image = Image.open(out).convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((image.width // 2, 5)))
    drawing = ImageChops.difference(image, background)
    corner = image.height // 10  # the menu button (top left) and the zoom buttons (bottom left) are left out
    drawing.paste((0, 0, 0), (0, 0, image.width, corner))
    drawing.paste((0, 0, 0), (0, image.height - corner, image.width, image.height))
    box = drawing.getbbox()
    if box:
        left, top, right, bottom = box
        image.crop((max(left - 40, 0), max(top - 40, 0), min(right + 40, image.width),
                    min(bottom + 40, image.height))).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    args = parser.parse_args()
    screenshot(args.model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
