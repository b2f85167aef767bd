# Capstan: one image with both entry points. Node 24 runs the TypeScript sources directly (type
# stripping), so there is no compile step; the build stage only installs the production
# dependencies from the lock file.
#   node operator/src/main.ts    the operator (the default command)
#   node workload/src/main.ts    the worker (the operator's worker pods set this command)
#   node workload/src/cli.ts     the CLI
# Runs as uid/gid 65532 (any uid works: the files are root-owned and world-readable) with a
# read-only root filesystem; only /tmp needs to be writable. `make images` builds it
# (hack/images.sh: docker when an engine answers, buildah otherwise).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# A machine whose TLS to the npm registry needs its own CA bundle passes it as the optional
# build secret "ca-certificates" (hack/images.sh does); it does not reach any layer.
RUN --mount=type=secret,id=ca-certificates,target=/run/secrets/ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi; \
    npm ci --omit=dev --no-audit --no-fund \
    && rm -rf /root/.npm

FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title=capstan \
      org.opencontainers.image.description="Capstan: a Kubernetes operator for a partitioned distributed service (default command) and the worker it runs" \
      org.opencontainers.image.source=https://github.com/capstan-dev/capstan \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.licenses=Apache-2.0
ENV NODE_ENV=production
WORKDIR /app
USER 65532:65532
ENTRYPOINT []
CMD ["node", "operator/src/main.ts"]
# The files last, so that a change of the sources rebuilds one layer (a layer is a whole copy
# of the file system in buildah's vfs storage). The build context holds only what runs
# (.dockerignore): package.json, package-lock.json, common/src, operator/src, workload/src.
COPY --from=deps /app/node_modules ./node_modules
COPY . ./
