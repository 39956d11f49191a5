# One image per service: docker build --build-arg SERVICE=api|submission-worker|pipeline-worker .
FROM golang:1.26.8-bookworm AS build
ARG SERVICE=api
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/service ./cmd/${SERVICE}

# The pipeline worker runs student code: it needs the toolchains the
# pipelines name (gcc, python3, valgrind) and util-linux for the sandbox.
FROM debian:bookworm-slim
ARG SERVICE=api
RUN if [ "$SERVICE" = "pipeline-worker" ]; then \
      apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev python3 valgrind util-linux ca-certificates && rm -rf /var/lib/apt/lists/*; \
    else \
      apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /out/service /usr/local/bin/service
ENV ZINC_API_ADDR=0.0.0.0:8080 ZINC_HEALTH_ADDR=0.0.0.0:8081 LOG_FORMAT=json
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/service"]
