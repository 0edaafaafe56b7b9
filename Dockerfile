# One image for every Rendezvous service (and the sandbox); the command picks which.
#   docker build -t rendezvous .
#   docker run rendezvous python -m services.booking

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt requirements-dev.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir grpcio-tools==1.85.1 mypy-protobuf==5.1.0
COPY protos/ protos/
COPY third_party/ third_party/
COPY scripts/gen_protos.py scripts/gen_protos.py
RUN mkdir -p libs && python scripts/gen_protos.py \
    && pip uninstall --yes grpcio-tools mypy-protobuf

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="rendezvous" \
      org.opencontainers.image.description="Rendezvous scheduling back end: availability, booking, directory, identity"
RUN groupadd --system --gid 10001 rendezvous && useradd --system --uid 10001 --gid rendezvous --home-dir /app rendezvous
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY libs/ libs/
COPY --from=build /src/libs/rendezvous/ libs/rendezvous/
COPY services/ services/
COPY scripts/ scripts/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/libs:/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RENDEZVOUS_HOST=0.0.0.0
RUN mkdir -p /app/var && chown rendezvous:rendezvous /app/var
USER 10001
EXPOSE 50051 50052 50053 50054 8054 2525
STOPSIGNAL SIGTERM
CMD ["python", "-m", "services.directory"]
