"""The checks: one module per layer, one declared function per check.

``request``, ``transport``, ``framing``, ``decoding``, ``schema``, ``ordering``, ``rendering``
and ``persistence`` each hold their layer's checks, every one a function with its declaration on
it (:func:`check`); :mod:`chatkit_lab.checks.registry` lists the modules. A check reads one
context of its layer's kind (:class:`ExchangeContext`, :class:`StreamContext`,
:class:`LifecycleContext`) and yields what it found.
"""

from chatkit_lab.checks._analysis import (
    STREAM_LAYERS,
    EventAnalysis,
    analyze_capture,
    analyze_events,
    analyze_stream,
)
from chatkit_lab.checks._contexts import (
    ExchangeContext,
    LifecycleContext,
    StreamContext,
    earlier_items,
    reply_kind,
)
from chatkit_lab.checks._model import (
    EXCERPT_LIMIT,
    LAYERS,
    STOPPED,
    Check,
    CheckSpec,
    Evidence,
    Finding,
    Found,
    Outcome,
    Skip,
    Skipped,
    check,
    checks_of,
    layer_states,
    run_checks,
)
from chatkit_lab.checks.framing import check_framing
from chatkit_lab.checks.persistence import (
    Reload,
    diff_lifecycle,
    diff_reload,
    item_text,
    streamed_items,
)
from chatkit_lab.checks.registry import (
    KEPT_PER_CODE,
    LAYER_MODULES,
    all_checks,
    check_specs,
    checks_for,
    finding,
    run_layer,
)
from chatkit_lab.checks.request import check_request
from chatkit_lab.checks.transport import body_not_saved, check_transport

__all__ = [
    "EXCERPT_LIMIT",
    "LAYERS",
    "KEPT_PER_CODE",
    "LAYER_MODULES",
    "STOPPED",
    "STREAM_LAYERS",
    "Check",
    "CheckSpec",
    "EventAnalysis",
    "Evidence",
    "ExchangeContext",
    "Finding",
    "Found",
    "LifecycleContext",
    "Outcome",
    "Reload",
    "Skip",
    "Skipped",
    "StreamContext",
    "earlier_items",
    "all_checks",
    "analyze_capture",
    "analyze_events",
    "analyze_stream",
    "body_not_saved",
    "check",
    "checks_of",
    "check_framing",
    "check_request",
    "check_specs",
    "check_transport",
    "checks_for",
    "diff_lifecycle",
    "diff_reload",
    "finding",
    "item_text",
    "layer_states",
    "reply_kind",
    "run_checks",
    "run_layer",
    "streamed_items",
]
