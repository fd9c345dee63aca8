"""HTML to PDF with WeasyPrint, fetching nothing but the package's own report assets.

A report holds text other people wrote (verbatims, names, titles). Jinja escapes it, so it
cannot become markup; and should anything still ask for a resource (a stylesheet, an image, a
font), ``AssetFetcher`` serves only files under ``relhealth/reports/assets`` (as
``relhealth-asset:NAME`` or a ``file:`` URL inside that folder), the report's own pictures
(``Images``: its charts and map, as ``relhealth-image:N``) and inline ``data:`` URLs.
Everything else (http, https, ftp, any other ``file:``) raises, and WeasyPrint then leaves the
resource out: rendering a report never touches the network or the rest of the file system.
"""

import base64
import binascii
import logging
import mimetypes
import urllib.parse
from pathlib import Path

from weasyprint import HTML
from weasyprint.urls import URLFetcherResponse

ASSETS = Path(__file__).resolve().parent / "assets"
ASSET_SCHEME = "relhealth-asset"
BASE_URL = ASSETS.as_uri() + "/"
IMAGE_SCHEME = "relhealth-image"
STYLESHEET = f"{ASSET_SCHEME}:report.css"


class RefusedResource(ValueError):
    """A report asked for something outside the package's report assets."""


class Images:
    """The pictures one report shows (its charts and stakeholder map), each referred to in the
    HTML by a ``relhealth-image:N`` URL that ``AssetFetcher`` answers from here.

    Rather than ``data:`` URLs: WeasyPrint's HTML parser reads an attribute character by
    character, and a report's megabyte of base64 cost it ~0.06 s (bench/RESULTS.md).
    """

    def __init__(self) -> None:
        self._pictures: list[tuple[bytes, str]] = []

    def add(self, body: bytes, media_type: str) -> str:
        """Keep ``body`` (of ``media_type``); the URL to show it by."""
        self._pictures.append((body, media_type))
        return f"{IMAGE_SCHEME}:{len(self._pictures)}"

    def get(self, name: str) -> tuple[bytes, str] | None:
        """The body and media type named ``name`` (the URL's number), or None."""
        number = int(name) if name.isdigit() else 0
        return self._pictures[number - 1] if 0 < number <= len(self._pictures) else None


class AssetFetcher:
    """WeasyPrint's URL fetcher for reports: package assets, the report's ``images`` and
    ``data:`` URLs, nothing else.

    ``refused`` lists every URL turned down, so tests (and logs) can see what was asked for.
    """

    def __init__(self, root: Path = ASSETS, images: Images | None = None) -> None:
        self.root = root.resolve()
        self.images = images or Images()
        self.refused: list[str] = []

    def __call__(self, url: str) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self._data(url)
        if scheme == IMAGE_SCHEME:
            return self._image(url)
        if scheme == ASSET_SCHEME:
            return self._asset(url, urllib.parse.unquote(url.split(":", 1)[1]).lstrip("/"))
        if scheme == "file":
            parts = urllib.parse.urlsplit(url)
            if parts.netloc in ("", "localhost"):
                path = Path(urllib.parse.unquote(parts.path)).resolve()
                if path.is_relative_to(self.root):
                    return self._asset(url, str(path.relative_to(self.root)))
        return self._refuse(url)

    def _refuse(self, url: str):
        self.refused.append(url)
        raise RefusedResource(f"Reports fetch only their own assets, not {url[:200]!r}")

    def _asset(self, url: str, name: str) -> URLFetcherResponse:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return self._refuse(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".css":
            content_type += "; charset=utf-8"
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": content_type}
        )

    def _image(self, url: str) -> URLFetcherResponse:
        picture = self.images.get(url.split(":", 1)[1])
        if picture is None:
            return self._refuse(url)
        body, media_type = picture
        return URLFetcherResponse(url, body=body, headers={"Content-Type": media_type})

    def _data(self, url: str) -> URLFetcherResponse:
        header, _, payload = url[len("data:") :].partition(",")
        media = header.removesuffix(";base64") or "text/plain"
        try:
            body = (
                base64.b64decode(payload, validate=False)
                if header.endswith(";base64")
                else urllib.parse.unquote_to_bytes(payload)
            )
        except (binascii.Error, ValueError):
            return self._refuse(url)
        return URLFetcherResponse(url, body=body, headers={"Content-Type": media})


class _Quiet(logging.Filter):
    """WeasyPrint logs each refused resource as a warning; the fetcher already recorded it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Reports fetch only their own assets" not in record.getMessage()


logging.getLogger("weasyprint").addFilter(_Quiet())


def pdf_bytes(
    html: str,
    *,
    base_url: str = BASE_URL,
    images: Images | None = None,
    fetcher: AssetFetcher | None = None,
) -> bytes:
    """A PDF of ``html`` (a complete document; its stylesheet is ``relhealth-asset:report.css``;
    its pictures in ``images``).

    Relative URLs resolve against the assets folder; ``fetcher`` (by default a fresh
    ``AssetFetcher`` of ``images``) decides what may be loaded.
    """
    fetcher = fetcher or AssetFetcher(images=images)
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return document.write_pdf()
