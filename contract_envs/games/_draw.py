"""Numpy drawing for the games' ``rgb_array`` frames: a pixel canvas, filled shapes, lines and text.

Every game draws its frames here, so the core needs nothing beyond numpy to render. Text uses the
X11 ``misc-fixed`` 6x13 bitmap font (public domain: "Public domain font. Share and enjoy."), printable
ASCII only; other characters are drawn as ``?``. Coordinates are ``(y, x)`` pixels from the top-left.
"""

from __future__ import annotations

import numpy as np

GLYPH_WIDTH, GLYPH_HEIGHT = 6, 13  # pixels per character cell at scale 1

INK = (33, 37, 41)
MUTED = (110, 117, 125)
FAINT = (206, 212, 218)
PAPER = (252, 252, 250)
PANEL = (241, 243, 245)
MONEY = (25, 135, 84)  # payments made: green
OFFER = (214, 130, 0)  # contracts offered: amber
ALERT = (200, 35, 51)
HIGHLIGHT = (255, 236, 153)
# agents' colours where a game has no palette of its own (colour-blind-safe order)
AGENT_COLOURS = ((0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (230, 159, 0))
PRINCIPAL_COLOUR = (120, 94, 240)

# rows of 5 bits (leftmost pixel = bit 4) of the 95 printable ASCII glyphs, 13 rows each, 2 hex digits a row
_FONT_HEX = (
    "000000000000000000000000000000040404040404040004000000000a0a0a00000000000000000000000a0a1f0a1f0a0a000000"
    "0000040f14140e05051e040000000009150a0204080a15120000000000081414081413120d000000000404040000000000000000"
    "0002040408080808080404020000080404020202020204040800000004150e15040000000000000000000004041f040400000000"
    "000000000000000000060408000000000000001f000000000000000000000000000000040e040000000101020204080810100000"
    "0000040a11111111110a0400000000040c1404040404041f000000000e111101020408101f000000001f0102040e0101110e0000"
    "00000202060a0a121f0202000000001f101016190101110e000000000e1110101e1111110e000000001f01020204040808080000"
    "00000e1111110e1111110e000000000e1111110f0101110e000000000000040e040000040e040000000000040e04000006040800"
    "0000010204081008040201000000000000001f00001f000000000000100804020102040810000000000e11110102040400040000"
    "00000e111113151516100f00000000040a1111111f111111000000001e0909090e0909091e000000000e111010101010110e0000"
    "00001e090909090909091e000000001f1010101e1010101f000000001f1010101e10101010000000000e111010101311110e0000"
    "0000111111111f11111111000000000e040404040404040e0000000007020202020202120c000000001111121418141211110000"
    "000010101010101010101f0000000011111b15151111111100000000111919151513131111000000000e111111111111110e0000"
    "00001e1111111e10101010000000000e111111111111150e010000001e1111111e14121111000000000e1110100e0101110e0000"
    "00001f04040404040404040000000011111111111111110e00000000111111110a0a0a04040000000011111111151515150a0000"
    "000011110a0a040a0a11110000000011110a0a0404040404000000001f010202040808101f0000000e0808080808080808080e00"
    "00001010080804020201010000000e0202020202020202020e000000040a11000000000000000000000000000000000000001f00"
    "0004020000000000000000000000000000000e010f11130d000000001010101e111111111e000000000000000e111010110e0000"
    "00000101010f111111110f000000000000000e111f10110e00000000060908081e08080808000000000000000e1111110f01110e"
    "0000101010161911111111000000000004000c040404040e00000000000200060202020212120c00001010101214181412110000"
    "00000c040404040404040e000000000000001a151515151100000000000000161911111111000000000000000e111111110e0000"
    "00000000001e1111111e10101000000000000f1111110f0101010000000000161910101010000000000000000e110c02110e0000"
    "00000008081e08080809060000000000000011111111130d000000000000001111110a0a040000000000000011111515150a0000"
    "0000000000110a04040a1100000000000000111111130d01110e00000000001f020408101f000000030404040418040404040300"
    "000004040404040404040400000018040404040304040404180000000915120000000000000000"
)

Colour = tuple[int, int, int]
_glyphs: np.ndarray | None = None


def glyphs() -> np.ndarray:
    """The font as bool ``[95, 13, 6]`` (character ``c`` at index ``ord(c) - 32``), decoded once."""
    global _glyphs
    if _glyphs is None:
        rows = np.frombuffer(bytes.fromhex("".join(_FONT_HEX)), dtype=np.uint8).reshape(95, GLYPH_HEIGHT)
        bits = np.zeros((95, GLYPH_HEIGHT, GLYPH_WIDTH), dtype=np.uint8)  # the sixth column: the gap
        bits[..., :5] = (rows[..., None] >> np.arange(4, -1, -1)) & 1
        _glyphs = bits.astype(bool)
    return _glyphs


def text_width(text: str, scale: int = 1) -> int:
    """Width in pixels of ``text`` drawn at ``scale``."""
    return len(text) * GLYPH_WIDTH * scale


def fmt(x: float, digits: int = 2, sign: bool = False) -> str:
    """A short number for a frame: ``0.5`` -> ``0.50``; integers without decimals; no ``-0.00``; ``sign``:
    ``+`` before positive numbers."""
    if abs(x - round(x)) < 1e-9 and abs(x) < 1e6:
        text = str(int(round(x)))
    else:
        text = f"{x:.{digits}f}"
        if float(text) == 0.0:
            text = "0"
    return "+" + text if sign and float(text) > 0 else text


class Canvas:
    """An RGB image ``[height, width, 3]`` uint8 with drawing methods that clip to the image."""

    def __init__(self, height: int, width: int, background: Colour = PAPER) -> None:
        self.pixels = np.empty((int(height), int(width), 3), dtype=np.uint8)
        self.pixels[...] = background

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    def _clip(self, y0: float, x0: float, y1: float, x1: float) -> tuple[int, int, int, int]:
        h, w = self.pixels.shape[:2]
        return (
            int(min(max(round(y0), 0), h)),
            int(min(max(round(x0), 0), w)),
            int(min(max(round(y1), 0), h)),
            int(min(max(round(x1), 0), w)),
        )

    def rect(self, y0: float, x0: float, y1: float, x1: float, colour: Colour) -> None:
        """Fill rows ``[y0, y1)`` and columns ``[x0, x1)``."""
        a, b, c, d = self._clip(y0, x0, y1, x1)
        if c > a and d > b:
            self.pixels[a:c, b:d] = colour

    def outline(self, y0: float, x0: float, y1: float, x1: float, colour: Colour, width: int = 1) -> None:
        """The border of the rectangle ``[y0, y1) x [x0, x1)``, ``width`` pixels thick, inside it."""
        self.rect(y0, x0, y0 + width, x1, colour)
        self.rect(y1 - width, x0, y1, x1, colour)
        self.rect(y0, x0, y1, x0 + width, colour)
        self.rect(y0, x1 - width, y1, x1, colour)

    def disc(self, cy: float, cx: float, radius: float, colour: Colour) -> None:
        """A filled disc centred at ``(cy, cx)``."""
        a, b, c, d = self._clip(cy - radius - 1, cx - radius - 1, cy + radius + 2, cx + radius + 2)
        if c <= a or d <= b:
            return
        yy, xx = np.mgrid[a:c, b:d]
        inside = (yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 <= radius**2
        self.pixels[a:c, b:d][inside] = colour

    def ring(self, cy: float, cx: float, radius: float, colour: Colour, width: float = 2.0) -> None:
        """A circle of ``width`` pixels inside radius ``radius``."""
        a, b, c, d = self._clip(cy - radius - 1, cx - radius - 1, cy + radius + 2, cx + radius + 2)
        if c <= a or d <= b:
            return
        yy, xx = np.mgrid[a:c, b:d]
        dist2 = (yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2
        self.pixels[a:c, b:d][(dist2 <= radius**2) & (dist2 >= (radius - width) ** 2)] = colour

    def line(self, y0: float, x0: float, y1: float, x1: float, colour: Colour, width: float = 1.0) -> None:
        """A straight line from ``(y0, x0)`` to ``(y1, x1)``, ``width`` pixels thick."""
        half = max(width, 1.0) / 2.0
        a, b, c, d = self._clip(
            min(y0, y1) - half - 1, min(x0, x1) - half - 1, max(y0, y1) + half + 2, max(x0, x1) + half + 2
        )
        if c <= a or d <= b:
            return
        yy, xx = np.mgrid[a:c, b:d] + 0.5
        dy, dx = y1 - y0, x1 - x0
        length2 = dy * dy + dx * dx
        t = np.zeros_like(yy) if length2 == 0 else np.clip(((yy - y0) * dy + (xx - x0) * dx) / length2, 0.0, 1.0)
        dist2 = (yy - (y0 + t * dy)) ** 2 + (xx - (x0 + t * dx)) ** 2
        self.pixels[a:c, b:d][dist2 <= half * half] = colour

    def arrow(self, y0: float, x0: float, y1: float, x1: float, colour: Colour, width: float = 2.0, head: float = 7.0):
        """A line from ``(y0, x0)`` with an arrow head at ``(y1, x1)``."""
        self.line(y0, x0, y1, x1, colour, width)
        length = float(np.hypot(y1 - y0, x1 - x0))
        if length == 0:
            return
        uy, ux = (y1 - y0) / length, (x1 - x0) / length
        for sy, sx in ((ux, -uy), (-ux, uy)):  # the two barbs, at +-30 degrees from the shaft
            by = y1 - head * (0.87 * uy + 0.5 * sy)
            bx = x1 - head * (0.87 * ux + 0.5 * sx)
            self.line(y1, x1, by, bx, colour, width)

    def text(
        self,
        y: float,
        x: float,
        text: str,
        colour: Colour = INK,
        scale: int = 1,
        bold: bool = False,
        align: str = "left",
    ) -> int:
        """Draw ``text`` with its cell's top-left at ``(y, x)`` (``align="center"``/``"right"``: ``x`` is the
        centre / right end); returns the x just after the text."""
        width = text_width(text, scale)
        if align == "center":
            x -= width / 2
        elif align == "right":
            x -= width
        x, y = int(round(x)), int(round(y))
        if not text:
            return x
        codes = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8).astype(np.int64) - 32
        codes[(codes < 0) | (codes >= 95)] = ord("?") - 32
        mask = glyphs()[codes]  # [n, 13, 6]
        mask = mask.transpose(1, 0, 2).reshape(GLYPH_HEIGHT, -1)
        if bold:
            mask = mask | np.roll(mask, 1, axis=1)
        if scale > 1:
            mask = np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)
        h, w = mask.shape
        a, b, c, d = self._clip(y, x, y + h, x + w)
        if c > a and d > b:
            self.pixels[a:c, b:d][mask[a - y : c - y, b - x : d - x]] = colour
        return x + width

    def bar(
        self, y: float, x: float, value: float, high: float, length: float, thickness: float, colour: Colour
    ) -> None:
        """A horizontal bar of ``length * value / high`` pixels on a faint track of ``length`` pixels."""
        self.rect(y, x, y + thickness, x + length, FAINT)
        if high > 0 and value > 0:
            self.rect(y, x, y + thickness, x + length * min(value / high, 1.0), colour)

    def contract_row(
        self,
        y: float,
        x: float,
        labels: list[str],
        amounts: np.ndarray | None,
        taken: int | None = None,
        box_width: int = 40,
        gap: int = 3,
    ) -> float:
        """One box per outcome: its label above, the contract's payment for it below (amber when positive,
        ``-`` without a contract); the realised outcome ``taken`` framed in green. Returns the bottom y."""
        height = 2 * GLYPH_HEIGHT + 6
        for j, label in enumerate(labels):
            x0 = x + j * (box_width + gap)
            self.rect(y, x0, y + height, x0 + box_width, HIGHLIGHT if j == taken else PANEL)
            self.outline(y, x0, y + height, x0 + box_width, MONEY if j == taken else FAINT, 2 if j == taken else 1)
            self.text(y + 2, x0 + box_width / 2, label[: max(box_width // GLYPH_WIDTH, 1)], MUTED, align="center")
            if amounts is None:
                value, colour = "-", MUTED
            else:
                value, colour = fmt(float(amounts[j])), OFFER if amounts[j] > 0 else MUTED
            self.text(y + 3 + GLYPH_HEIGHT, x0 + box_width / 2, value, colour, align="center")
        return y + height

    def paste(self, y: int, x: int, image: np.ndarray) -> None:
        """Copy ``image [h, w, 3]`` uint8 with its top-left at ``(y, x)`` (clipped)."""
        h, w = image.shape[:2]
        a, b, c, d = self._clip(y, x, y + h, x + w)
        if c > a and d > b:
            self.pixels[a:c, b:d] = image[a - y : c - y, b - x : d - x]


def colour_of(index: int, palette: tuple[Colour, ...] = AGENT_COLOURS) -> Colour:
    """The ``index``-th colour of ``palette``, cycling."""
    return palette[index % len(palette)]


__all__ = [
    "AGENT_COLOURS",
    "ALERT",
    "FAINT",
    "GLYPH_HEIGHT",
    "GLYPH_WIDTH",
    "HIGHLIGHT",
    "INK",
    "MONEY",
    "MUTED",
    "OFFER",
    "PANEL",
    "PAPER",
    "PRINCIPAL_COLOUR",
    "Canvas",
    "colour_of",
    "fmt",
    "glyphs",
    "text_width",
]
