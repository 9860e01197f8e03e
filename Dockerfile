# marathon-task-exporter as a container image.
#
#   docker build -t marathon-task-exporter .
#   docker run -p 9472:9472 -e MARATHON_URL=http://marathon.mesos:8080 marathon-task-exporter
#
# Every flag reads an environment variable (MARATHON_URL, MARATHON_USERNAME, MARATHON_PASSWORD_FILE,
# MARATHON_TOKEN_FILE, WEB_LISTEN_ADDRESS, LOG_FORMAT, ...: `--help` names each one); arguments
# after the image name are passed to the binary (`docker run ... marathon-task-exporter demo`).

FROM rust:1-slim-bookworm AS build
# The source revision for build_info and --version: docker build --build-arg REVISION=$(git rev-parse --short=12 HEAD) .
ARG REVISION=unknown
WORKDIR /src
# The manifest names the benches, so cargo needs them to read it; tests are not needed to build.
COPY Cargo.toml Cargo.lock build.rs ./
COPY benches ./benches
# The workspace's simulated Marathon (the `demo` subcommand runs on it).
COPY crates ./crates
COPY src ./src
RUN MARATHON_TASK_EXPORTER_REVISION="$REVISION" cargo build --release --locked --bin marathon-task-exporter

# glibc and CA certificates, no shell, runs as an unprivileged user (uid 65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/marathon-task-exporter /usr/local/bin/marathon-task-exporter
USER 65532:65532
ENV WEB_LISTEN_ADDRESS=0.0.0.0:9472
EXPOSE 9472
ENTRYPOINT ["/usr/local/bin/marathon-task-exporter"]
