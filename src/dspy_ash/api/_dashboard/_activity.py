"""A program's monitoring over time: executions and p95 latency per time bucket (the last 24 hours by the
hour, or the last 7 days by six hours), one `programs.stats` window per bucket, drawn as an SVG chart
(bars for executions, a line for p95) with no script and no inline style."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dspy_ash.api._dashboard._web import Viewer, call, render, signed_in

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(signed_in)]
Window = Literal["24h", "7d"]
WINDOWS: dict[str, tuple[int, timedelta]] = {"24h": (24, timedelta(hours=1)), "7d": (28, timedelta(hours=6))}
WIDTH, HEIGHT, PAD, BOTTOM = 720, 180, 28, 18


@dataclass(frozen=True, slots=True)
class Bucket:
    since: datetime
    until: datetime
    executions: int
    failed: int
    p95: float | None


def buckets_of(window: Window, now: datetime) -> list[tuple[datetime, datetime]]:
    """The window's buckets, oldest first; the last one holds `now` (buckets start on the hour)."""
    count, step = WINDOWS[window]
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return [(end - step * (count - i), end - step * (count - i - 1)) for i in range(count)]


async def activity(request: Request, viewer: Viewer, program_id: uuid.UUID, window: Window) -> list[Bucket]:
    found: list[Bucket] = []
    for since, until in buckets_of(window, datetime.now(UTC)):
        stats = await call(request, viewer, "programs.stats",
                           {"program_id": program_id, "since": since, "until": until})  # fmt: skip
        found.append(Bucket(since, until, stats.executions, stats.failed, stats.latency_p95))
    return found


def chart(buckets: list[Bucket]) -> dict[str, Any]:
    """SVG coordinates: a bar per bucket (executions, failed ones on top in their own colour) and the p95
    line through the buckets that had executions (a gap where one had none)."""
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - PAD - BOTTOM
    slot = inner_w / len(buckets)
    most = max((b.executions for b in buckets), default=0) or 1
    slowest = max((b.p95 for b in buckets if b.p95 is not None), default=0.0) or 1.0
    bars: list[dict[str, Any]] = []
    lines: list[list[str]] = [[]]
    points: list[tuple[float, float, Bucket]] = []
    for i, b in enumerate(buckets):
        x = PAD + i * slot
        height = inner_h * b.executions / most
        failed = inner_h * b.failed / most
        bottom = PAD + inner_h
        bars.append({"x": round(x + 1, 1), "width": round(max(slot - 2, 1), 1), "y": round(bottom - height, 1),
                     "height": round(height, 1), "failed_y": round(bottom - height, 1),
                     "failed_height": round(failed, 1), "bucket": b})  # fmt: skip
        if b.p95 is None:
            if lines[-1]:
                lines.append([])
            continue
        px, py = round(x + slot / 2, 1), round(bottom - inner_h * b.p95 / slowest, 1)
        lines[-1].append(f"{px},{py}")
        points.append((px, py, b))
    ticks = [
        (round(PAD + i * slot, 1), buckets[i].since)
        for i in range(0, len(buckets), max(1, len(buckets) // 6))
    ]
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "bottom": PAD + inner_h, "right": WIDTH - PAD,
            "bars": bars, "lines": [" ".join(line) for line in lines if line], "points": points,
            "most": most, "slowest": slowest if any(b.p95 is not None for b in buckets) else None,
            "ticks": ticks, "total": sum(b.executions for b in buckets)}  # fmt: skip


@router.get("/programs/{program_id}/activity")
async def activity_fragment(
    request: Request, viewer: SignedIn, program_id: uuid.UUID, window: Window = "24h"
) -> Response:
    """The chart, as the program's page loads it (and switches its window)."""
    buckets = await activity(request, viewer, program_id, window)
    return render(request, "activity.html", viewer, program_id=program_id, window=window, windows=list(WINDOWS),
                  chart=chart(buckets), step=WINDOWS[window][1])  # fmt: skip
