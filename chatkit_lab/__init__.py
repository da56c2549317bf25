"""chatkit-lab: find out why a ChatKit UI goes blank against a custom backend, with evidence.

Data flows one way, and the package's subpackages are the stages (see ``docs/architecture.md``):
sources → capture → sse → client → checks → scenarios → diagnosis → report. This module
re-exports the small public API below; each stage's package exports the rest of its own public names
(``chatkit_lab.capture``, ``chatkit_lab.sources``, ``chatkit_lab.sse``, ``chatkit_lab.client``,
``chatkit_lab.checks``, ``chatkit_lab.scenarios``, ``chatkit_lab.report``, ``chatkit_lab.redact``).

Names load on first use, so ``import chatkit_lab`` (and the command line's ``--help``) stays
fast: the heavy libraries (pandas, the ChatKit SDK, the agents SDK) load only when needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # sources: where captures come from
    "open_target": "chatkit_lab.targets",
    "open_app_target": "chatkit_lab.targets",
    "InProcessTransport": "chatkit_lab.sources",
    "HTTPTransport": "chatkit_lab.sources",
    "LoopbackServer": "chatkit_lab.sources",
    "RecordingProxy": "chatkit_lab.sources",
    "load_har": "chatkit_lab.sources",
    # capture
    "Capture": "chatkit_lab.capture",
    "load_captures": "chatkit_lab.capture",
    "save_captures": "chatkit_lab.capture",
    # sse: ChatKit's messages and their events
    "dispatch_bytes": "chatkit_lab.sse",
    "decode_messages": "chatkit_lab.sse",
    # checks
    "analyze_capture": "chatkit_lab.checks",
    "analyze_events": "chatkit_lab.checks",
    "check_specs": "chatkit_lab.checks",
    # diagnosis
    "diagnose": "chatkit_lab.diagnosis",
    "diagnose_target": "chatkit_lab.diagnosis",
    "diagnose_captures": "chatkit_lab.diagnosis",
    "Diagnosis": "chatkit_lab.diagnosis",
    # scenarios: conformance beyond the first message
    "diagnose_scenarios": "chatkit_lab.diagnosis",
    "Conformance": "chatkit_lab.diagnosis",
    # report
    "report_markdown": "chatkit_lab.report",
    # secrets and errors
    "Redactor": "chatkit_lab.redact",
    "register_secrets": "chatkit_lab.redact",
    "secrets_from_env": "chatkit_lab.redact",
    "ChatKitLabError": "chatkit_lab.errors",
}

__all__ = [
    "Capture",
    "ChatKitLabError",
    "Conformance",
    "Diagnosis",
    "HTTPTransport",
    "InProcessTransport",
    "LoopbackServer",
    "RecordingProxy",
    "Redactor",
    "analyze_capture",
    "analyze_events",
    "check_specs",
    "decode_messages",
    "diagnose",
    "diagnose_captures",
    "diagnose_scenarios",
    "diagnose_target",
    "dispatch_bytes",
    "load_captures",
    "load_har",
    "open_app_target",
    "open_target",
    "register_secrets",
    "report_markdown",
    "save_captures",
    "secrets_from_env",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # One version, the one ``pyproject.toml`` declares, read from the installed metadata on
        # first use (importlib.metadata takes longer to import than the command line's help).
        from importlib.metadata import version

        globals()[name] = version("chatkit-lab")
        return globals()[name]
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chatkit_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors; nothing here runs
    __version__: str
    from chatkit_lab.capture import Capture, load_captures, save_captures
    from chatkit_lab.checks import analyze_capture, analyze_events, check_specs
    from chatkit_lab.diagnosis import (
        Conformance,
        Diagnosis,
        diagnose,
        diagnose_captures,
        diagnose_scenarios,
        diagnose_target,
    )
    from chatkit_lab.errors import ChatKitLabError
    from chatkit_lab.redact import Redactor, register_secrets, secrets_from_env
    from chatkit_lab.report import report_markdown
    from chatkit_lab.sources import (
        HTTPTransport,
        InProcessTransport,
        LoopbackServer,
        RecordingProxy,
        load_har,
    )
    from chatkit_lab.sse import decode_messages, dispatch_bytes
    from chatkit_lab.targets import open_app_target, open_target
