"""The web app: Gradio UI at ``/`` and our MCP server over streamable HTTP at ``/mcp``, in one
ASGI app served by uvicorn.

The MCP endpoint is mounted with :func:`oasis_mcp.http_app.mount_mcp`: the same Host/Origin
allow-lists and optional bearer token (``OASIS_MCP_TOKEN``) as ``oasis-mcp serve --transport
http``, the exact path ``/mcp`` (and ``/mcp/``), ``/health``, and the MCP session manager run in the
app's lifespan. The UI and the ``/mcp`` endpoint share one server instance, so the data are loaded
once.

Settings come from the environment (Hugging Face Spaces sets ``GRADIO_SERVER_NAME=0.0.0.0``,
``GRADIO_SERVER_PORT=7860`` and ``SPACE_HOST``):

* ``PORT`` or ``GRADIO_SERVER_PORT`` (default 7860), ``GRADIO_SERVER_NAME`` (default 127.0.0.1);
* ``SPACE_HOST`` (e.g. ``user-oasis.hf.space``): accepted as Host and ``https://`` Origin on
  ``/mcp``; ``OASIS_MCP_ALLOWED_HOSTS``/``OASIS_MCP_ALLOWED_ORIGINS`` add more;
* ``OASIS_PUBLIC_URL``: the URL shown in the About tab (default from ``SPACE_HOST``);
* ``OASIS_DATA_DIR``, ``OASIS_ARTIFACTS_DIR``: see ``oasis_mcp.config``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from oasis_app.services import Services

log = logging.getLogger("oasis_app")

DEFAULT_PORT = 7860


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    space_host: str | None = None
    public_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    data_dir: str | None = None
    artifacts_dir: str | None = None
    auto_download: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port_text = env.get("PORT") or env.get("GRADIO_SERVER_PORT") or str(DEFAULT_PORT)
        try:
            port = int(port_text)
        except ValueError:
            raise SystemExit(f"oasis app: PORT must be a number, not {port_text!r}") from None
        space_host = (env.get("SPACE_HOST") or "").strip() or None
        hosts: list[str] = []
        origins: list[str] = []
        if space_host:
            hosts.append(space_host)
            origins.append(f"https://{space_host}")
        public = (env.get("OASIS_PUBLIC_URL") or "").strip() or (
            f"https://{space_host}" if space_host else None
        )
        return cls(
            host=(env.get("GRADIO_SERVER_NAME") or "127.0.0.1").strip(),
            port=port,
            space_host=space_host,
            public_url=public,
            allowed_hosts=tuple(hosts),
            allowed_origins=tuple(origins),
            data_dir=env.get("OASIS_DATA_DIR") or None,
            artifacts_dir=env.get("OASIS_ARTIFACTS_DIR") or None,
            auto_download=env.get("OASIS_AUTO_DOWNLOAD", "1") != "0",
        )

    @property
    def url(self) -> str:
        if self.public_url:
            return self.public_url
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{shown}:{self.port}"


def create_app(settings: Settings | None = None) -> tuple[FastAPI, Services]:
    """Build the ASGI app (UI + /mcp) and the services behind it. Connects the in-process MCP
    client and reads the catalogues, so the first page is complete as soon as it is served."""
    import gradio as gr
    from fastapi import FastAPI

    from oasis_app import geo
    from oasis_app.llm import LLMSettings
    from oasis_app.services import build_services
    from oasis_app.ui import CSS, build_ui
    from oasis_mcp.http_app import mount_mcp
    from oasis_mcp.server import create_server

    settings = settings or Settings.from_env()
    started = time.perf_counter()
    server = create_server(data_dir=settings.data_dir, artifacts_dir=settings.artifacts_dir)
    services = build_services(
        lambda: server,
        llm=LLMSettings.from_env(),
        space_url=settings.url,
        data_dir=settings.data_dir,
        auto_download=settings.auto_download,
    )
    # Outlines for the map: regions now (the first Compare view shows them), departments in the
    # background (a couple of seconds of simplification).
    geo.outlines("region", settings.data_dir)
    threading.Thread(target=geo.outlines, args=("department", settings.data_dir),
                     name="oasis-geo", daemon=True).start()
    blocks = build_ui(services)

    app = FastAPI(title="OASIS MCP", docs_url=None, redoc_url=None, openapi_url=None)
    mount_mcp(
        app, server,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.allowed_origins,
        bind_host=settings.host,
    )
    gr.mount_gradio_app(
        app, blocks, path="/", ssr_mode=False, mcp_server=False, css=CSS,
        theme=gr.themes.Soft(primary_hue="blue"), footer_links=[],
    )
    app.state.services = services
    log.info("app ready in %.1f s (data edition %s, %s)", time.perf_counter() - started,
             services.catalog.edition or "none", "language model " + services.llm.label
             if services.llm else "offline planner")
    return app, services


def configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def check_mcp_version() -> None:
    """Stop with a clear message if an mcp 1.x got installed (e.g. by ``gradio[mcp]``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("mcp")
    except PackageNotFoundError:
        raise SystemExit("oasis app: the 'mcp' package is not installed (pip install -r "
                         "requirements.txt)") from None
    if int(installed.split(".")[0]) < 2:
        raise SystemExit(f"oasis app: mcp {installed} is installed but mcp>=2.3 is required; "
                         "something installed gradio[mcp] or huggingface_hub[mcp], which pin "
                         "mcp<2. Reinstall with: pip install 'mcp>=2.3,<3'")


def main(argv: list[str] | None = None) -> int:
    """Run the app with uvicorn on the host and port from the environment."""
    import uvicorn

    configure_logging()
    check_mcp_version()
    settings = Settings.from_env()
    app, services = create_app(settings)
    log.info("serving the UI at %s/ and MCP at %s/mcp", settings.url, settings.url)
    config: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": "info",
                              "proxy_headers": True, "forwarded_allow_ips": "*"}
    try:
        uvicorn.run(app, **config)
    finally:
        services.bridge.close()
    return 0
