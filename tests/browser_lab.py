"""A throwaway JupyterLab server for the browser test.

:class:`JupyterLabServer` starts ``jupyter lab`` from this interpreter on 127.0.0.1, on a free
port, with a random token, serving a temporary root directory, and with every Jupyter
directory (config, data, runtime, settings, workspaces) inside that temporary tree, so the
user's own trust database, settings and saved workspaces neither leak in nor get written to.
Start-up is bounded; leaving the ``with`` block always stops the server and its kernels.
:meth:`JupyterLabServer.jupyter` runs another ``jupyter`` command (``trust``, say) against the
same directories.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 60.0

# Settings that keep a test session quiet and offline: no news or update checks (their
# notifications would cover the notebook).
QUIET_SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterLabError(RuntimeError):
    """The server did not come up (the message carries the end of its log)."""


class JupyterLabServer:
    """``jupyter lab`` on 127.0.0.1 serving ``root``; use as a context manager."""

    def __init__(
        self, root: Path, home: Path, settings: dict[str, dict[str, object]] | None = None
    ) -> None:
        """Serve ``root``; keep every Jupyter directory under ``home``.

        ``settings`` maps a plugin id (``"@jupyterlab/notebook-extension:tracker"``) to
        setting values, written as the user's settings before the server starts.
        """
        self.root = root
        self.home = home
        self.settings = {**QUIET_SETTINGS, **(settings or {})}
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.log_path = home / "jupyterlab.log"
        self.env = self._environment()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """``path`` on the server, with the token (never printed by this class)."""
        separator = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{separator}token={self.token}"

    def _environment(self) -> dict[str, str]:
        dirs = {
            "JUPYTER_CONFIG_DIR": self.home / "config",
            "JUPYTER_DATA_DIR": self.home / "data",
            "JUPYTER_RUNTIME_DIR": self.home / "runtime",
            "JUPYTERLAB_SETTINGS_DIR": self.home / "settings",
            "JUPYTERLAB_WORKSPACES_DIR": self.home / "workspaces",
            "IPYTHONDIR": self.home / "ipython",
        }
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        for plugin, values in self.settings.items():
            package, _, name = plugin.partition(":")
            target = dirs["JUPYTERLAB_SETTINGS_DIR"] / package / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values), encoding="utf-8")
        env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
        env.update({key: str(path) for key, path in dirs.items()})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def jupyter(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``jupyter ARGS`` from this interpreter with the server's directories, bounded."""
        return subprocess.run(
            [sys.executable, "-m", "jupyter", *args],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.allow_remote_access=False",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers often run as root
            command.append("--allow-root")
        log = self.log_path.open("wb")
        try:
            self._process = subprocess.Popen(
                command,
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        request = urllib.request.Request(
            f"{self.base_url}/api/status", headers={"Authorization": f"token {self.token}"}
        )
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise JupyterLabError(f"jupyter lab exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise JupyterLabError(
            f"jupyter lab did not answer within {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, with the token blanked out."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.replace(self.token, "[TOKEN]").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and its kernels: ask politely, then terminate, then kill."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            request = urllib.request.Request(
                f"{self.base_url}/api/shutdown",
                method="POST",
                headers={"Authorization": f"token {self.token}"},
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()
            except (urllib.error.URLError, OSError):
                pass
        for sig, wait in ((None, STOP_TIMEOUT_S), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if process.poll() is not None:
                break
            if sig is not None:
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        # Anything the server left behind in its own process group goes too.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> JupyterLabServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# -- a report as GitHub shows it --------------------------------------------------------------

GITHUB_WIDTH = 980
"""GitHub's markdown body: at most 980 px wide, 45 px of padding each side."""
GITHUB_CSS = """
body { margin: 0; background: #fff; }
.markdown-body { box-sizing: border-box; max-width: 980px; margin: 0 auto; padding: 45px;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
  sans-serif; font-size: 16px; line-height: 1.5; color: #1f2328; word-wrap: break-word; }
.markdown-body h1, .markdown-body h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
.markdown-body table { display: block; width: max-content; max-width: 100%; overflow: auto;
  border-spacing: 0; border-collapse: collapse; margin: 0 0 16px; }
.markdown-body td, .markdown-body th { padding: 6px 13px; border: 1px solid #d1d9e0; }
.markdown-body tr:nth-child(2n) { background: #f6f8fa; }
.markdown-body img { max-width: 100%; box-sizing: content-box; }
.markdown-body code { padding: .2em .4em; font-size: 85%; background: #eff1f3;
  border-radius: 6px; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.markdown-body pre { overflow: auto; padding: 16px; background: #f6f8fa; }
"""


def render_report(markdown_path: Path) -> Path:
    """``markdown_path`` rendered as GitHub renders markdown (CommonMark and GFM tables, its
    layout at 980 px), into an HTML file beside it; images resolve relative to it."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(
        markdown_path.read_text(encoding="utf-8")
    )
    page = markdown_path.with_suffix(".html")
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<style>{GITHUB_CSS}</style></head><body><article class='markdown-body'>{body}"
        "</article></body></html>",
        encoding="utf-8",
    )
    return page
