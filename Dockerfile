# berth as a privileged sidecar: see README.md, "Deployment".
# Build stage: the same Debian packages as scripts/install-deps.
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        clang llvm make gcc pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev \
        libjansson-dev libcurl4-openssl-dev ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# vmlinux.h comes from the build host's BTF (docker build sees /sys of the host).
RUN make clean && make

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libjansson4 libcurl4 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/berth /usr/local/sbin/berth
ENTRYPOINT ["/usr/local/sbin/berth"]
CMD ["watch"]
