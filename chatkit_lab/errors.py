"""The kit's own documented error types.

Every error the kit raises on purpose derives from :class:`ChatKitLabError`, so a caller (the
CLI, a notebook, the fuzz tests) can tell "the input was bad and here is why" apart from a bug.
"""

from __future__ import annotations


class ChatKitLabError(Exception):
    """Base class for every error chatkit-lab raises deliberately."""


class CaptureFormatError(ChatKitLabError):
    """A saved capture file cannot be read: wrong schema, old version, foreign or corrupt file."""


class TargetError(ChatKitLabError):
    """A target cannot be used: unknown built-in name, malformed URL, unreachable host."""


class TransformError(ChatKitLabError):
    """A client transform (custom fetch) cannot be loaded or failed on a request."""


class HarFormatError(ChatKitLabError):
    """A HAR file cannot be read at all (individual bad entries are reported, not raised)."""


class ScenarioError(ChatKitLabError):
    """A scenario name that is not known, or a bad prompt override."""
