# Planwright image: one image for every role; the command picks it (api, planner, worker, critic,
# policy, migrate). deploy/compose.yaml runs the whole stack from it.
#   docker build -t planwright .
#   docker run --rm planwright --help
FROM python:3.11-slim

ARG UV_VERSION=0.13.9
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /app

# Dependencies first, from the lockfile only: this layer is rebuilt only when they change.
# (uv reads every workspace member's pyproject.toml: the example plugin is one, a dev dependency only.)
COPY pyproject.toml uv.lock ./
COPY examples/planwright-example-tools/pyproject.toml examples/planwright-example-tools/
RUN uv sync --frozen --no-dev --no-install-workspace

# Then the source, as a whole: planwright/core and planwright/services are symlinks into libs/core
# and services/ (docs/adr/0001), and COPY keeps them as symlinks. See .dockerignore.
COPY . .
RUN uv sync --frozen --no-dev

# Run as a non-root user. /app/var (PLANWRIGHT_DATA_DIR) belongs to it, so a named volume mounted
# there starts out writable (Docker copies the directory's owner into a new volume).
RUN useradd --create-home --uid 10001 --user-group planwright \
    && mkdir -p /app/var \
    && chown planwright:planwright /app/var
USER planwright

ENV PATH=/app/.venv/bin:$PATH \
    PLANWRIGHT_DATA_DIR=/app/var

EXPOSE 8000
# No HEALTHCHECK here: only the api role serves HTTP; deploy/compose.yaml checks /healthz on it.
ENTRYPOINT ["planwright"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
