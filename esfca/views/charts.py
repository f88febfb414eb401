"""Charts drawn on the server as inline SVG.

Why our own SVG and no chart library: banks run offline networks (no CDN), the design
forbids pasting third-party code into the repo, and the two charts the dashboard needs
(stacked monthly bars, proportion bars) are a few rectangles. Server-side SVG also works
without JavaScript, prints, scales, and carries its own text alternative (a ``<title>``
and the data table beside it). Geometry is integer arithmetic on the exact amounts.
"""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from esfca import policy

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 40


@dataclass(frozen=True)
class Bar:
    x: int
    width: int
    retained_y: int
    retained_h: int
    converted_y: int
    converted_h: int
    label: str
    receipts: Decimal
    retained: Decimal
    converted: Decimal


def _nice_ceiling(value: Fraction) -> int:
    """The smallest 1/2/5 × 10^n at or above ``value`` (at least 1)."""
    target = max(1, int(value) + (0 if value == int(value) else 1))
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= target:
                return m * step
        step *= 10


def monthly_bars(months) -> dict:
    """Stacked bars (retained below, converted above) of USD equivalents per month."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max((m.receipts_usd for m in months), default=Fraction(0)))
    slot = plot_w // max(1, len(months))
    bar_w = max(4, slot * 3 // 5)
    bars = []
    for i, m in enumerate(months):
        retained_h = int(m.retained_usd * plot_h / top)
        total_h = int(m.receipts_usd * plot_h / top)
        converted_h = max(0, total_h - retained_h)
        x = LEFT + i * slot + (slot - bar_w) // 2
        base = TOP + plot_h
        bars.append(
            Bar(
                x=x,
                width=bar_w,
                retained_y=base - retained_h,
                retained_h=retained_h,
                converted_y=base - retained_h - converted_h,
                converted_h=converted_h,
                label=m.month.strftime("%b %y"),
                receipts=policy.round_half_up(m.receipts_usd),
                retained=policy.round_half_up(m.retained_usd),
                converted=policy.round_half_up(m.converted_usd),
            )
        )
    ticks = [{"y": TOP + plot_h - plot_h * k // 4, "value": Decimal(top * k) / 4} for k in range(5)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "base": TOP + plot_h,
        "label_y": TOP + plot_h + 18,
        "bars": bars,
        "ticks": ticks,
        "half_slot": bar_w // 2,
    }
