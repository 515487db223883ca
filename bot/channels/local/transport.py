"""Prints outbox rows for a terminal user; images and documents are saved to files."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from handlers.messages import Reply

CHANNEL = "local"


def render(reply: Reply) -> str:
    """The text with its choices as numbered lines (`1. Bahasa Indonesia`)."""
    lines = [reply.text]
    lines += [f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, start=1)]
    return "\n".join(lines)


class LocalTransport:
    """Delivers to the terminal this process is attached to."""

    channel = CHANNEL

    def __init__(self, out: TextIO, files_dir: Path) -> None:
        self.out = out
        self.files_dir = files_dir

    async def send(self, address: str, reply: Reply) -> str | None:
        self.out.write(render(reply) + "\n")
        for attachment in (reply.image, reply.document):
            if attachment is not None:
                self.files_dir.mkdir(parents=True, exist_ok=True)
                path = self.files_dir / Path(attachment.filename).name
                path.write_bytes(attachment.content)
                self.out.write(f"[file: {path}]\n")
        self.out.write("\n")
        self.out.flush()
        return None
