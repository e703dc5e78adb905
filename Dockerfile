# KB Nova: build the `nova` binary, then a slim runtime image.
#   docker build -t kb-nova .                                   # model mounted at run time
#   docker build -t kb-nova --build-arg BAKE_MODEL=1 .          # model baked into the image
#   docker run -p 8080:8080 -v $PWD/models:/app/models -v nova-data:/data kb-nova
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas-dev python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin nova && cp target/release/nova /nova
ARG BAKE_MODEL=0
RUN mkdir -p /models && if [ "$BAKE_MODEL" = "1" ]; then \
      KB_NOVA_CACHE=/tmp/kbn bash scripts/fetch-models.sh && cp -r models/all-MiniLM-L6-v2 /models/; \
    fi

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0 ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app nova && mkdir -p /app/models /data && chown nova /data
COPY --from=build /nova /usr/local/bin/nova
COPY --from=build /models/ /app/models/
COPY examples /app/examples
WORKDIR /app
USER nova
ENV NOVA_DATA__DIR=/data NOVA_SERVER__ADDR=0.0.0.0:8080 NOVA_MODEL__PATH=/app/models/all-MiniLM-L6-v2
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["nova"]
CMD ["serve"]
