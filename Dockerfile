# syntax=docker/dockerfile:1
# OASIS MCP server image: `oasis-mcp serve --transport http` on port 8000, stateless by default
# (any replica answers any request; see docs/deploy.md). The SSMSI data is NOT in the image:
# mount it read-only at /data (filled by the one-off `oasis-mcp data update` job).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install the package in a venv, run the quick checks ---------------------------------
FROM ${PYTHON_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md LICENSE ./
COPY oasis_mcp/ oasis_mcp/
# Runtime dependencies only (mcp, pydantic, numpy, pandas, httpx): no [train] or [app] extras.
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/oasis-mcp --version
# The quick checks: tests that need neither the SSMSI files nor the training libraries, run
# against the installed package with the test tools kept out of the runtime venv.
COPY artifacts/ artifacts/
COPY tests/ tests/
RUN /opt/venv/bin/pip install --target /opt/testdeps "pytest>=8" "pytest-timeout>=2.3" \
        "hypothesis>=6.100"
WORKDIR /tmp
RUN PYTHONPATH=/opt/testdeps OASIS_ARTIFACTS_DIR=/src/artifacts OASIS_DATA_DIR=/nonexistent \
    /opt/venv/bin/python -m pytest -q -p no:cacheprovider --rootdir /src \
        /src/tests/test_parsing.py /src/tests/test_indicators.py /src/tests/test_geography.py \
        /src/tests/test_runtime_imports.py \
    && printf '%s\n' \
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"build","version":"0"}}}' \
        '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
        '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' \
       | OASIS_DATA_DIR=/nonexistent /opt/venv/bin/oasis-mcp serve | grep -q '"id":2,"result":{"tools"'

# --- runtime: the venv, the trained artifacts, a non-root user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="oasis-mcp" \
      org.opencontainers.image.description="MCP server for French recorded-crime statistics (SSMSI)" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 oasis \
    && useradd --system --uid 10001 --gid oasis --home-dir /home/oasis --create-home oasis \
    && mkdir -p /data /cache \
    && chown oasis:oasis /data /cache
COPY --from=build /opt/venv /opt/venv
COPY --chown=root:root artifacts/ /app/artifacts/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OASIS_DATA_DIR=/data \
    OASIS_CACHE_DIR=/cache \
    OASIS_ARTIFACTS_DIR=/app/artifacts \
    OASIS_MCP_STATELESS=1
WORKDIR /home/oasis
USER 10001:10001
EXPOSE 8000
# /health answers without loading any data (and without the token).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["oasis-mcp"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
