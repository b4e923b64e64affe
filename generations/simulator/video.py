"""Render the simulator's result videos and inspect source clips with PyAV.

Results must be real, browser-playable MP4 files (docs/architecture.md "Provider simulator"): H.264
in yuv420p, an AAC track when ``sound`` is true, the ``moov`` atom up front (``faststart``). They
are kept cheap: a short side of 144-216 px, 12 fps (24 for aivideoapi.ai, whose results report
``framespersecond: 24``), a moving box over a sliding gradient and a sine tone. Files are cached
by their parameters, so many tasks share one encode.
"""

from __future__ import annotations

import array
import math
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av

FPS = 12
SAMPLE_RATE = 44_100
TONE_HZ = 441  # a whole number of periods per second: the 1 s buffer loops without a click
AUDIO_FRAME_SAMPLES = 1024
SHORT_SIDE_PX = {"480p": 144, "720p": 180, "1080p": 216}


class NotAVideoError(ValueError):
    """A file has no decodable video stream with a duration."""


@dataclass(frozen=True)
class VideoInfo:
    """What the simulator needs to know about a clip."""

    duration_s: float
    width: int
    height: int
    has_audio: bool


def frame_size(aspect_width: int, aspect_height: int, resolution: str) -> tuple[int, int]:
    """Return an even (width, height) keeping the aspect, with the short side set by resolution."""
    short = SHORT_SIDE_PX[resolution]
    long = _even(short * max(aspect_width, aspect_height) / min(aspect_width, aspect_height))
    return (long, short) if aspect_width >= aspect_height else (short, long)


def parse_aspect_ratio(aspect_ratio: str) -> tuple[int, int]:
    """Split a documented aspect ratio such as ``"16:9"`` into ``(16, 9)``."""
    width, height = aspect_ratio.split(":")
    return int(width), int(height)


def probe(path: Path) -> VideoInfo:
    """Return duration, size and audio presence of a clip; raise NotAVideoError otherwise.

    Still images (a JPEG opens as a one-frame "video") have no duration and are rejected.
    """
    try:
        with av.open(str(path)) as container:
            videos = container.streams.video
            if not videos:
                raise NotAVideoError("no video stream")
            stream = videos[0]
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            else:
                raise NotAVideoError("no duration")
            width, height = stream.codec_context.width, stream.codec_context.height
            has_audio = bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise NotAVideoError(str(exc)) from exc
    if duration <= 0 or not width or not height:
        raise NotAVideoError("empty video")
    return VideoInfo(duration_s=duration, width=width, height=height, has_audio=has_audio)


def render(
    path: Path, *, width: int, height: int, duration_s: float, sound: bool, fps: int = FPS
) -> None:
    """Encode a synthetic MP4 of ``duration_s`` seconds at ``path`` (overwritten)."""
    frames = max(1, round(duration_s * fps))
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
        video = output.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = output.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if sound else None
        tone = _audio_frames(round(frames / fps * SAMPLE_RATE)) if sound else iter(())
        pending_audio = next(tone, None)
        for index in range(frames):
            output.mux(video.encode(_video_frame(width, height, index * FPS / fps)))
            # Interleave: audio up to the end of this video frame.
            while pending_audio is not None and pending_audio.pts < (index + 1) * SAMPLE_RATE / fps:
                output.mux(audio.encode(pending_audio))  # type: ignore[union-attr]
                pending_audio = next(tone, None)
        output.mux(video.encode())
        if audio is not None:
            output.mux(audio.encode())


class VideoCache:
    """Render each distinct (size, duration, sound, fps) once into a directory and reuse it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}

    def get(
        self,
        media_dir: Path,
        *,
        width: int,
        height: int,
        duration_s: float,
        sound: bool,
        fps: int = FPS,
    ) -> Path:
        """Return the path of a cached video, rendering it first if needed (thread-safe).

        ``duration_s`` is rounded to 0.1 s so clips extended from slightly different sources
        share a file.
        """
        tenths = round(duration_s * 10)
        rate = "" if fps == FPS else f"_{fps}fps"
        name = f"sim_{width}x{height}_{tenths}ds_{'sound' if sound else 'mute'}{rate}.mp4"
        path = media_dir / name
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            if not path.exists():
                media_dir.mkdir(parents=True, exist_ok=True)
                partial = media_dir / f".{name}.{uuid.uuid4().hex}.part"
                try:
                    render(
                        partial,
                        width=width,
                        height=height,
                        duration_s=tenths / 10,
                        sound=sound,
                        fps=fps,
                    )
                    os.replace(partial, path)
                finally:
                    partial.unlink(missing_ok=True)
        return path


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _video_frame(width: int, height: int, position: float) -> av.VideoFrame:
    """Draw the frame at ``position`` (in 12 fps frames, so motion speed does not depend on the
    frame rate): a sliding luma gradient, a bright moving box, drifting colours."""
    frame = av.VideoFrame(width, height, "yuv420p")
    luma, cb, cr = frame.planes
    shift = int(position * 5)
    row = bytes(16 + (x * 2 + shift) % 200 for x in range(luma.line_size))
    box = max(2, height // 3)
    box_x = int(position * 7) % max(1, width - box)
    box_y = (height - box) // 2
    box_row = row[:box_x] + b"\xeb" * box + row[box_x + box :]
    luma.update(row * box_y + box_row * box + row * (height - box_y - box))
    phase = 2 * math.pi * position / (FPS * 4)
    cb.update(bytes([round(128 + 60 * math.sin(phase))]) * cb.buffer_size)
    cr.update(bytes([round(128 + 60 * math.cos(phase))]) * cr.buffer_size)
    return frame


def _audio_frames(total_samples: int) -> Iterator[av.AudioFrame]:
    """Cut ``total_samples`` of a looping sine tone into AAC-sized float frames."""
    second = array.array(
        "f", (0.2 * math.sin(2 * math.pi * TONE_HZ * i / SAMPLE_RATE) for i in range(SAMPLE_RATE))
    ).tobytes()
    looped = second * 2
    for start in range(0, total_samples, AUDIO_FRAME_SAMPLES):
        count = min(AUDIO_FRAME_SAMPLES, total_samples - start)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
        offset = (start % SAMPLE_RATE) * 4
        chunk = looped[offset : offset + count * 4]
        plane = frame.planes[0]
        plane.update(chunk + bytes(plane.buffer_size - len(chunk)))
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        yield frame
