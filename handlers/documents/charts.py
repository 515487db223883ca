"""Small PNG charts drawn with Pillow (no plotting stack needed on a cheap server)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFont

THIS, LAST, INK, GRID = (46, 125, 50), (165, 214, 167), (33, 33, 33), (224, 224, 224)


def paired_bars(
    title: str, rows: Sequence[tuple[str, int, int]], legend: tuple[str, str], show: Callable[[int], str]
) -> bytes:
    """Horizontal bars, two per row (this period, last period), each labelled by `show`, as PNG bytes."""
    font, small = ImageFont.load_default(size=18), ImageFont.load_default(size=14)
    label_width, bar_width, row_height = 260, 420, 46
    height = 90 + row_height * max(len(rows), 1) + 40
    image = Image.new("RGB", (label_width + bar_width + 120, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((16, 14), title, fill=INK, font=font)
    top = max((max(a, b) for _, a, b in rows), default=0) or 1
    for index, (label, this, last) in enumerate(rows):
        y = 60 + index * row_height
        draw.line((label_width, y - 4, label_width + bar_width, y - 4), fill=GRID)
        draw.text((16, y + 8), label[:30], fill=INK, font=small)
        for offset, value, colour in ((0, this, THIS), (18, last, LAST)):
            length = int(bar_width * value / top)
            draw.rectangle((label_width, y + offset, label_width + max(length, 1), y + offset + 14), fill=colour)
            draw.text((label_width + length + 6, y + offset), show(value), fill=INK, font=small)
    legend_y = height - 30
    for x, text, colour in ((16, legend[0], THIS), (240, legend[1], LAST)):
        draw.rectangle((x, legend_y, x + 14, legend_y + 14), fill=colour)
        draw.text((x + 20, legend_y - 2), text, fill=INK, font=small)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
