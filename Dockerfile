# fastric container image base: AWS's Lambda Python 3.12 image with fastric as the runtime client.
#
#   docker build -t fastric-python:3.12 .
#   # your function's image:
#   #   FROM fastric-python:3.12
#   #   COPY app.py ${LAMBDA_TASK_ROOT}/
#   #   CMD ["app.handler"]
#   docker run --rm -p 9000:8080 my-function      # local: fastric-rie on :8080 in the container
#   curl -d '{}' http://localhost:9000/2015-03-31/functions/function/invocations
#
# Stage 1 builds the manylinux2014 wheel for the image's Python (zig links it: glibc >= 2.17);
# stage 2 pip-installs it into the Lambda base image. docs/DEPLOY.md has the details and sizes.
#
# Build arguments (defaults in brackets): PYTHON_VERSION [3.12], RUST_VERSION [1.95], and the images
# BASE_IMAGE [AWS's Lambda Python image], BUILD_IMAGE [Python slim], RUST_IMAGE [Rust slim].
# A wheel built elsewhere replaces stage 1: `--build-context wheels=dist` (a directory holding
# fastric-*-cp3XX-*.whl for the image's Python); make test-image builds this way on a stand-in base.
ARG PYTHON_VERSION=3.12
ARG RUST_VERSION=1.95
ARG BASE_IMAGE=public.ecr.aws/lambda/python:${PYTHON_VERSION}
ARG BUILD_IMAGE=public.ecr.aws/docker/library/python:${PYTHON_VERSION}-slim-bookworm
ARG RUST_IMAGE=public.ecr.aws/docker/library/rust:${RUST_VERSION}-slim-bookworm

FROM ${RUST_IMAGE} AS rust

FROM ${BUILD_IMAGE} AS build
ARG PYTHON_VERSION
# gcc links the build scripts and proc macros (host code); zig links the extension itself.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY --from=rust /usr/local/cargo /usr/local/cargo
COPY --from=rust /usr/local/rustup /usr/local/rustup
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH
RUN pip install --no-cache-dir maturin==1.16.0 ziglang==0.17.0 cargo-zigbuild==0.24.0
WORKDIR /src
COPY Cargo.toml Cargo.lock pyproject.toml README.md LICENSE NOTICE ./
COPY rust rust
COPY python python
RUN maturin build --release --strip --locked --compatibility manylinux2014 --zig \
        -i "python${PYTHON_VERSION}" --out /dist
# The native fastric-rie (rust/rie_bin) goes into the wheel as a script, as scripts/build-wheels.sh does.
COPY scripts/add-wheel-script.py scripts/
RUN target="$(uname -m)-unknown-linux-gnu" \
    && CARGO_PROFILE_RELEASE_STRIP=symbols cargo zigbuild --release --locked -p fastric-rie --target "$target.2.17" \
    && python scripts/add-wheel-script.py /dist/fastric-*.whl "target/$target/release/fastric-rie"

# The wheels the image installs: stage 1's, unless --build-context wheels=DIR supplies a directory.
FROM scratch AS wheels
COPY --from=build /dist /

FROM ${BASE_IMAGE}
ARG PYTHON_VERSION
RUN --mount=type=bind,from=wheels,source=/,target=/tmp/dist \
    pip install --no-cache-dir /tmp/dist/fastric-*-"cp${PYTHON_VERSION%%.*}${PYTHON_VERSION#*.}"-*.whl
COPY --chmod=755 docker/entry.sh /fastric-entry.sh
ENV FASTRIC_PYTHON=/var/lang/bin/python${PYTHON_VERSION}
WORKDIR /var/task
ENTRYPOINT ["/fastric-entry.sh"]
CMD ["app.handler"]
