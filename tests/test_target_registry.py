"""Built-in targets and transforms come from plugins that register themselves; the core never
imports the backends."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatkit_lab import targets
from chatkit_lab.backends import legacy_auth, legacy_fetch, make_backend
from chatkit_lab.client import ClientRequest
from chatkit_lab.errors import TargetError, TransformError
from chatkit_lab.targets import (
    BUILTIN_TARGETS,
    PLUGIN_GROUP,
    BuiltinTarget,
    Registry,
    load_transform,
    open_target,
    target_names,
    transform_names,
)

PACKAGE = Path(__file__).resolve().parents[1] / "chatkit_lab"


def _echo_app() -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"seen": request.headers.get("x-demo", "")})

    return Starlette(routes=[Route("/demo", echo, methods=["POST"])])


def _add_demo(request: ClientRequest) -> ClientRequest:
    request.headers["x-demo"] = "added"
    return request


def register_demo(registry: Registry) -> None:
    """A third-party plugin: one target and one transform (loaded by name in a test below)."""
    registry.add_target(
        "demo", lambda: BuiltinTarget("demo", _echo_app(), "/demo", "demo-fetch"), description="x"
    )
    registry.add_transform("demo-fetch", _add_demo)


def register_broken(registry: Registry) -> None:
    raise RuntimeError("this plugin is broken on purpose")


@pytest.fixture
def demo_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """The kit's registry replaced by one holding the built-ins, the demo plugin and a broken
    plugin (restored afterwards)."""
    plugins = [
        *entry_points(group=PLUGIN_GROUP),
        EntryPoint("demo", f"{__name__}:register_demo", PLUGIN_GROUP),
        EntryPoint("broken", f"{__name__}:register_broken", PLUGIN_GROUP),
        EntryPoint("missing", "chatkit_lab_no_such_module:register", PLUGIN_GROUP),
    ]
    registry = Registry().load(plugins)
    monkeypatch.setattr(targets, "_registry", registry)
    yield registry


def test_the_builtin_backends_register_their_targets_through_the_entry_point() -> None:
    names = [entry.name for entry in entry_points(group=PLUGIN_GROUP)]
    assert "builtin" in names
    assert tuple(BUILTIN_TARGETS) == (
        "reference",
        "legacy:attempt1",
        "legacy:attempt2",
        "legacy:attempt3",
        "faulty:create-500",
        "faulty:create-json",
        "faulty:cancel",
        "faulty:retry",
        "faulty:client-tool",
        "faulty:widget",
        "faulty:workflow",
        "faulty:attachments",
        "faulty:history",
        "faulty:errors",
        "faulty:widget-unsaved",
        "faulty:widget-new-id",
        "faulty:history-endless",
        "faulty:client-tool-loop",
        "faulty:workflow-drops-tasks",
        "faulty:workflow-unfinished",
        "faulty:cancel-locks",
        "faulty:cancel-twice",
        "faulty:crash-on-deleted",
    )
    assert BUILTIN_TARGETS == tuple(target_names())
    assert "legacy:attempt3" in BUILTIN_TARGETS and "legacy:attempt4" not in BUILTIN_TARGETS
    built = targets.make_builtin("legacy:attempt2")
    assert (built.path, built.transform) == (make_backend("legacy:attempt2").path, "legacy-fetch")


def test_the_report_transforms_are_found_by_name_and_other_specs_still_resolve() -> None:
    assert load_transform("legacy-fetch") is legacy_fetch
    assert load_transform("legacy-auth") is legacy_auth
    assert {"none", "legacy-fetch", "legacy-auth"} <= set(transform_names())
    request = ClientRequest("GET", "http://x.test/")
    assert load_transform("none")(request) is request
    assert load_transform(f"{__name__}:_add_demo") is _add_demo
    with pytest.raises(TransformError, match="legacy-fetch"):
        load_transform("no-such-transform")


def test_importing_the_kit_and_using_a_url_target_does_not_load_the_backends() -> None:
    script = (
        "import asyncio, sys\n"
        "import chatkit_lab\n"
        "from chatkit_lab.targets import load_transform, open_target\n"
        "load_transform('none')\n"
        "async def main():\n"
        "    async with open_target('https://chatkit.example.test/api') as target:\n"
        "        assert target.url.endswith('/api')\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('chatkit_lab.backends')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_nothing_outside_the_backends_names_the_backends_package() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "backends" not in path.relative_to(PACKAGE).parts
        and "chatkit_lab.backends" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


async def test_a_plugin_adds_a_target_and_its_default_transform(demo_registry: Registry) -> None:
    assert "demo" in BUILTIN_TARGETS
    async with open_target("demo") as target:
        assert target.builtin and target.transform_name == "demo-fetch"
        request = ClientRequest.chatkit(target.url, {"type": "threads.list", "params": {}})
        wire = target.transform(request)
        capture = await target.sender.send_request(wire)
    assert capture.json_body() == {"seen": "added"}


async def test_a_broken_plugin_is_named_and_the_other_plugins_still_work(
    demo_registry: Registry,
) -> None:
    assert len(demo_registry.failures) == 2
    assert load_transform("legacy-fetch") is legacy_fetch
    with pytest.raises(TargetError) as raised:
        async with open_target("nowhere"):
            pass
    message = str(raised.value)
    assert "unknown target 'nowhere'" in message and "reference" in message
    assert "this plugin is broken on purpose" in message
    assert "chatkit_lab_no_such_module" in message


def test_a_name_is_registered_once_and_never_as_a_url() -> None:
    registry = Registry()
    make = lambda: BuiltinTarget("a", _echo_app(), "/demo", "none")  # noqa: E731
    registry.add_target("a", make)
    with pytest.raises(ValueError, match="already registered"):
        registry.add_target("a", make)
    with pytest.raises(ValueError, match="URL"):
        registry.add_target("https://example.test/chatkit", make)
    with pytest.raises(ValueError, match="':'"):
        registry.add_transform("pkg.module:fetch", _add_demo)
    with pytest.raises(ValueError, match="already registered"):
        registry.add_transform("none", _add_demo)
