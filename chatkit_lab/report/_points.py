"""One sentence of an explanation and its evidence, and the words the explanation is built of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chatkit_lab.checks import Finding

Basis = Literal["fact", "modelled"]


@dataclass(frozen=True)
class Point:
    """One plain sentence (or two) of the explanation, and where its evidence is."""

    text: str
    evidence: tuple[str, ...] = ()
    """Pointers: ``capture <name>``, ``screen <n>``, ``finding <code>``, ``layers ...``."""
    basis: Basis = "fact"

    @property
    def pointer(self) -> str:
        """The evidence as one short parenthesis-free phrase (``findings a, b; capture c``)."""
        groups: dict[str, list[str]] = {}
        for item in self.evidence:
            kind, _, name = item.partition(" ")
            groups.setdefault(kind if name else "", []).append(name or kind)
        parts = []
        for kind, names in groups.items():
            plural = kind + "s" if kind and len(names) > 1 and not kind.endswith("s") else kind
            parts.append(f"{plural} {', '.join(names)}".strip())
        return "; ".join(parts)

    def __str__(self) -> str:
        return f"{self.text} ({self.pointer})" if self.evidence else self.text


def pointers_of(item: Finding) -> tuple[str, ...]:
    out = [f"finding {item.code}"]
    if item.evidence.capture:
        out.append(f"capture {item.evidence.capture}")
    if item.evidence.event_index is not None:
        out.append(f"event {item.evidence.event_index}")
    return tuple(out)


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is a name (``HTTP``, ``ChatKit``)."""
    head = text.split(" ", 1)[0]
    if len(head) > 1 and any(ch.isupper() for ch in head[1:]):
        return text
    return text[:1].lower() + text[1:]


def join_words(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


__all__ = ["Basis", "Point", "capital", "join_words", "lower_first", "pointers_of", "sentence"]
