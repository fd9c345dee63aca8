"""The PDF printer fetches nothing but the package's own assets, and hostile text stays text."""

import http.server
import subprocess
import threading

import pytest
from markupsafe import escape

from relhealth.reports import render

HUGE = "A" * 5000


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(
        next(line for line in info.stdout.splitlines() if line.startswith("Pages:")).split()[1]
    )


@pytest.fixture
def listener():
    """A local HTTP server that counts the requests it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def _document(body: str, head: str = "") -> str:
    return (
        '<!doctype html><html><head><link rel="stylesheet" href="relhealth-asset:report.css">'
        f"{head}</head><body><section class='chapter first'>{body}</section></body></html>"
    )


def test_a_hostile_verbatim_is_printed_as_text_and_fetches_nothing(listener, tmp_path):
    port, hits = listener
    verbatim = (
        f'<img src="http://127.0.0.1:{port}/x"> see file:///etc/passwd '
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/evil.css"> {HUGE}'
    )
    fetcher = render.AssetFetcher()
    pdf = render.pdf_bytes(
        _document(f'<div class="verbatim"><q>{escape(verbatim)}</q></div>'), fetcher=fetcher
    )
    text = _text(pdf, tmp_path)
    assert hits == []
    assert fetcher.refused == []  # escaped: nothing even asked for the resources
    assert f"127.0.0.1:{port}/x" in text
    assert "file:///etc/passwd" in text
    assert "root:" not in text
    # The unbroken string wraps inside the page instead of running off it.
    assert text.count("A" * 60) > 40
    assert max(len(line) for line in text.splitlines()) < 200
    assert _pages(pdf, tmp_path) <= 3


def test_markup_that_gets_through_cannot_reach_the_network_or_the_disk(listener, tmp_path):
    port, hits = listener
    fetcher = render.AssetFetcher()
    pdf = render.pdf_bytes(
        _document(
            f'<img src="http://127.0.0.1:{port}/img.png"><img src="file:///etc/passwd">'
            f'<img src="https://127.0.0.1:{port}/s.png"><p>still printed</p>',
            head=f'<link rel="stylesheet" href="http://127.0.0.1:{port}/a.css">'
            '<style>@import url("file:///etc/passwd");</style>',
        ),
        fetcher=fetcher,
    )
    assert hits == []
    assert f"http://127.0.0.1:{port}/img.png" in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert "still printed" in _text(pdf, tmp_path)


def test_the_fetcher_serves_package_assets_and_refuses_the_rest():
    fetcher = render.AssetFetcher()
    css = fetcher("relhealth-asset:report.css")
    assert b"@page" in css.read()
    assert fetcher((render.ASSETS / "report.css").as_uri()).read().startswith(b"/*")
    for url in (
        "relhealth-asset:../render.py",
        (render.ASSETS.parent / "render.py").as_uri(),
        "file:///etc/passwd",
        "http://example.com/x.png",
        "ftp://example.com/x",
        "file://other-host/etc/passwd",
    ):
        with pytest.raises(render.RefusedResource):
            fetcher(url)
    assert fetcher("data:text/plain,hi").read() == b"hi"


def test_a_report_s_pictures_are_served_by_number_and_nothing_else_under_that_scheme():
    images = render.Images()
    first = images.add(b"<svg/>", "image/svg+xml")
    second = images.add(b"\xff\xd8jpeg", "image/jpeg")
    assert (first, second) == ("relhealth-image:1", "relhealth-image:2")
    fetcher = render.AssetFetcher(images=images)
    response = fetcher(second)
    assert response.read() == b"\xff\xd8jpeg"
    assert response.content_type == "image/jpeg"
    for url in ("relhealth-image:0", "relhealth-image:3", "relhealth-image:-1", "relhealth-image:"):
        with pytest.raises(render.RefusedResource):
            fetcher(url)
    with pytest.raises(render.RefusedResource):
        render.AssetFetcher()(first)  # another report's fetcher knows none of these


def test_pictures_print_from_the_report_s_images(tmp_path):
    images = render.Images()
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">'
        '<text x="5" y="25" font-size="14">Drawn from images</text></svg>'
    )
    url = images.add(svg.encode(), "image/svg+xml")
    fetcher = render.AssetFetcher(images=images)
    pdf = render.pdf_bytes(_document(f'<img alt="map" src="{url}">'), fetcher=fetcher)
    assert "Drawn from images" in _text(pdf, tmp_path)
    assert fetcher.refused == []


def test_pages_are_a4_with_numbers_and_running_headers(tmp_path):
    body = (
        '<span class="running running-account">Acme &amp; Co</span>'
        '<span class="running running-date">Account relationship report · 27 Nov 2026</span>'
        + "<p>Lorem ipsum dolor sit amet. </p>"
        * 200
    )
    pdf = render.pdf_bytes(_document(body))
    text = _text(pdf, tmp_path)
    pages = _pages(pdf, tmp_path)
    assert pages >= 2
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text
    assert text.count("Acme & Co") >= pages
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True)
    assert b"595.276 x 841.89" in info.stdout  # A4 in points
