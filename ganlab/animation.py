"""A run's sample pictures as one animation: a GIF always, an MP4 where ffmpeg is installed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: frames of an animation at most: a long run's pictures are thinned evenly, its first and last kept
MAX_FRAMES = 300


def evenly_thinned(frames: Sequence[Path], limit: int = MAX_FRAMES) -> list[Path]:
    """At most ``limit`` of ``frames``, evenly spaced, the first and the last always among them."""
    if len(frames) <= limit:
        return list(frames)
    last = len(frames) - 1
    return [frames[round(i * last / (limit - 1))] for i in range(limit)]


def write_animation(frames: Sequence[Path], out_stem: Path, frame_seconds: float = 0.25) -> list[Path]:
    """Write ``frames`` (PNG files, in order) as ``<out_stem>.gif``, and ``<out_stem>.mp4`` when ``ffmpeg`` is on PATH.

    The last frame is held for a second. Returns the files written (none for no frames); a file that exists is
    replaced only once its successor is complete, so an interrupted write leaves the previous animation intact.
    """
    from PIL import Image

    frames = evenly_thinned(frames)
    if not frames:
        return []
    milliseconds = round(1000 * frame_seconds)
    images = [Image.open(path).convert("RGB") for path in frames]
    durations = [milliseconds] * (len(images) - 1) + [max(milliseconds, 1000)]
    gif = out_stem.with_suffix(".gif")
    partial = gif.with_name(gif.name + ".partial")
    images[0].save(partial, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    partial.replace(gif)
    written = [gif]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        written += _mp4(ffmpeg, frames, out_stem.with_suffix(".mp4"), 1 / frame_seconds)
    return written


def _mp4(ffmpeg: str, frames: Sequence[Path], mp4: Path, rate: float) -> list[Path]:
    listing = mp4.with_name(mp4.stem + ".frames.txt")
    listing.write_text("".join(f"file '{path.resolve()}'\nduration {1 / rate}\n" for path in frames))
    partial = mp4.with_name(mp4.stem + ".partial.mp4")
    # H.264 in yuv420p (what every player opens) needs even sides: pad by a pixel where a side is odd
    command = [ffmpeg, "-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white", "-pix_fmt", "yuv420p", "-r", f"{rate:g}",
               str(partial)]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        failure = result.stderr.strip().splitlines()[-1:] if result.returncode else None
    except (OSError, subprocess.TimeoutExpired) as err:
        failure = [str(err)]
    finally:
        listing.unlink(missing_ok=True)
    if failure is not None:
        from ganlab.console import console

        partial.unlink(missing_ok=True)
        console.print(f"[yellow]no {mp4.name}: ffmpeg failed ({' '.join(failure) or 'no message'}); the GIF is written")
        return []
    partial.replace(mp4)
    return [mp4]
