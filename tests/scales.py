"""Protocols on another diary scale than the reference study's NRS 0..10.

``protocol_on_scale`` writes the ``ketapain init --design ab/ba`` protocol with its ``[diary]
scale_min``/``scale_max`` changed, as a statistician with a VAS 0..100 (or a 0..5 verbal scale)
would edit it; ``on_scale`` gives the loaded protocol.
"""

from __future__ import annotations

from pathlib import Path

from ketapain.protocol import Protocol, load_protocol, protocol_template


def protocol_on_scale(folder: Path, scale_min: int, scale_max: int) -> Path:
    """Write ``folder/protocol.toml``: the AB/BA template on ``scale_min..scale_max``."""
    text = protocol_template("ab/ba")
    assert "scale_min = 0\n" in text and "scale_max = 10\n" in text
    text = text.replace("scale_min = 0\n", f"scale_min = {scale_min}\n").replace(
        "scale_max = 10\n", f"scale_max = {scale_max}\n")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "protocol.toml"
    path.write_text(text, encoding="utf-8")
    return path


def on_scale(folder: Path, scale_min: int, scale_max: int) -> Protocol:
    """The AB/BA template protocol on ``scale_min..scale_max`` (written under ``folder``)."""
    protocol = load_protocol(protocol_on_scale(folder, scale_min, scale_max))
    assert protocol.diary.scale == (float(scale_min), float(scale_max))
    return protocol
