"""The API docs (Swagger UI) from files installed with Planwright, and the site's icon: nothing a page
of this server shows is fetched from a CDN, so both work offline."""

from __future__ import annotations

import struct
import zlib
from functools import cache

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """``/docs`` and its assets, and ``/favicon.ico`` (call with FastAPI's own docs turned off)."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Planwright API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url="/favicon.ico",
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(icon(), media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


# The icon, drawn here rather than kept as a binary file: a 32 x 32 tile with a small plan graph (three
# nodes, two edges into the last), as an ICO holding one PNG.
_SIZE = 32
_BACKGROUND = (31, 41, 55, 255)
_INK = (96, 165, 250, 255)
_NODES = ((9, 9), (9, 23), (23, 16))
_EDGES = ((0, 2), (1, 2))


@cache
def icon() -> bytes:
    png = _png(_draw())
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", _SIZE, _SIZE, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def _draw() -> list[list[tuple[int, int, int, int]]]:
    pixels = [[_BACKGROUND] * _SIZE for _ in range(_SIZE)]
    for a, b in _EDGES:
        (x0, y0), (x1, y1) = _NODES[a], _NODES[b]
        for step in range(65):
            x, y = round(x0 + (x1 - x0) * step / 64), round(y0 + (y1 - y0) * step / 64)
            pixels[y][x] = pixels[y + 1][x] = _INK
    for cx, cy in _NODES:
        for y in range(cy - 4, cy + 5):
            for x in range(cx - 4, cx + 5):
                if (x - cx) ** 2 + (y - cy) ** 2 <= 17:
                    pixels[y][x] = _INK
    return pixels


def _png(pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", len(pixels[0]), len(pixels), 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
