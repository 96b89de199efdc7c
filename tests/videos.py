"""Real video files for tests, made with ffmpeg's `testsrc` (1 s, small): one per kind of input;
or of one solid colour (`color=`), so that a black frame in a browser is told apart."""

from __future__ import annotations

import subprocess
from pathlib import Path

# name: (ffmpeg output options, whether the library must transcode it)
KINDS = {
    "h264.mp4": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], False),
    "hevc.mov": (["-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error", "-c:a", "aac"], True),
    "mpeg4.avi": (["-c:v", "mpeg4", "-c:a", "mp3"], True),
    "h264.mkv": (["-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac"], True),
    "vp9.webm": (["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-deadline", "realtime", "-c:a", "libopus"], False),
}


def make_video(
    path: Path, options: list[str], seconds: float = 1, size: str = "160x120", color: str | None = None
) -> Path:
    source = f"color=c={color}:" if color else "testsrc="
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        + ["-f", "lavfi", "-i", f"{source}size={size}:rate=25:duration={seconds}"]
        + ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        + options
        + ["-shortest", str(path)],
        check=True,
    )
    return path


def probe(path: Path) -> dict:
    import ffmpeg

    return ffmpeg.probe(str(path))


def moov_before_mdat(path: Path) -> bool:
    """An MP4 with "fast start": its index (moov) comes before the media data (mdat)."""
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")
