# chargegate in production: one node per container. SQLite data lives in the /data volume;
# for several nodes set CHARGEGATE_DATABASE_URL (PostgreSQL) and CHARGEGATE_BROKER_URL (Redis).
# See docs/production.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHARGEGATE_DATABASE_URL=sqlite+aiosqlite:////data/chargegate.db

RUN useradd --system --create-home --uid 10001 chargegate \
    && mkdir /data && chown chargegate /data

# Built outside the final paths and removed afterwards: only the installed package stays.
# Bytecode is compiled here, as root, because the unprivileged user cannot write it later.
COPY pyproject.toml README.md /tmp/chargegate/
COPY src /tmp/chargegate/src
RUN pip install /tmp/chargegate && rm -rf /tmp/chargegate

USER chargegate
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8180

# Follows CHARGEGATE_TLS_CERT: with it the node serves only HTTPS. The certificate names the
# public host, not 127.0.0.1, so this local probe does not verify it.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, ssl, urllib.request as r; tls = bool(os.environ.get('CHARGEGATE_TLS_CERT')); r.urlopen(('https' if tls else 'http') + '://127.0.0.1:8180/healthz', timeout=2, context=ssl._create_unverified_context() if tls else None)"]

# `serve` migrates the database first. With several nodes on one PostgreSQL, run
# `chargegate migrate` once (a one-off container) before starting them: migrations take no lock.
# The exec form makes chargegate PID 1, so `docker stop` (SIGTERM) drains it gracefully.
ENTRYPOINT ["chargegate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8180"]
