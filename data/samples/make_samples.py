"""Re-create the sample captures in this folder (run from the repository root).

``legacy_attempt3_via_proxy.jsonl``: the report's setup (attempt 3 behind its custom fetch)
played by the kit's client through the recording proxy, as a frontend pointed at the proxy would
produce it; saved redacted. ``firefox_legacy.har``: a hand-written Firefox-style HAR export of
the same setup (``tests/har/firefox_legacy.har`` with its fake token redacted).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from chatkit_lab import HTTPTransport, LoopbackServer, RecordingProxy, load_captures, save_captures
from chatkit_lab.backends import legacy_app
from chatkit_lab.client import LifecycleRunner
from chatkit_lab.redact import redact_text
from chatkit_lab.targets import load_transform

HERE = Path(__file__).resolve().parent


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        with LoopbackServer(legacy_app(attempt=3, delay_s=0.02)) as backend:
            proxy = RecordingProxy(backend.url, out_dir=Path(scratch))
            with LoopbackServer(proxy.app) as front:
                runner = LifecycleRunner(
                    HTTPTransport(),
                    f"{front.url}/user-1/chat",
                    transform=load_transform("legacy-fetch"),
                    target="legacy:attempt3 via proxy",
                )
                await runner.run("Hello! What can you do?")
        captures = [c for path in proxy.saved for c in load_captures(path)]
    save_captures(captures, HERE / "legacy_attempt3_via_proxy.jsonl")
    har = HERE.parent.parent / "tests" / "har" / "firefox_legacy.har"
    (HERE / "firefox_legacy.har").write_text(redact_text(har.read_text(encoding="utf-8")))
    print(f"{len(captures)} captures written")


if __name__ == "__main__":
    asyncio.run(main())
