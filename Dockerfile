# Capstan: one image with both entry points, compiled to JavaScript in a build stage (tsc, emit
# only: `make lint` checks the types), so no process in it loads Node's TypeScript loader; the deps
# stage installs only the production dependencies from the lock file.
#   node operator/src/main.js    the operator (the default command)
#   node workload/src/main.js    the worker (the operator's worker pods set this command)
#   node workload/src/cli.js     the CLI
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

# The compiler alone, in the version the lock file pins, installed apart from /app so that no other
# package comes with it; this layer changes only with the lock file.
FROM ${NODE_IMAGE} AS build
COPY package-lock.json /tmp/lock.json
RUN --mount=type=secret,id=ca-certificates,target=/run/secrets/ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi; \
    version=$(node -p "require('/tmp/lock.json').packages['node_modules/typescript'].version") \
    && mkdir /tsc && cd /tsc \
    && npm install --no-save --no-package-lock --no-audit --no-fund "typescript@${version}" \
    && rm -rf /root/.npm /tmp/lock.json
WORKDIR /app
COPY . ./
RUN node /tsc/node_modules/typescript/bin/tsc -p tsconfig.build.json \
    && cp -r operator/src/dashboard/static dist/operator/src/dashboard/static

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
CMD ["node", "operator/src/main.js"]
# The files last, so that a change of the sources rebuilds one layer (a layer is a whole copy
# of the file system in buildah's vfs storage): the compiled common/, operator/ and workload/
# sources, the dashboard's static files and package.json (the build context is only what the
# build needs, see .dockerignore).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./
