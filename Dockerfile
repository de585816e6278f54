# One image with all five service binaries under /usr/local/bin; the Helm
# chart picks the binary per Deployment with `command`.
#
# Build from the repository root:
#   docker build -t registry.example.com/dokkumcp:$(git describe --tags) .
#
# CI does not build this image (no container engine there); `make chart-test`
# only validates the Helm chart. Reproducible builds need the base images
# pinned by digest: replace each @sha256 placeholder below with the digest you
# have verified (`docker buildx imagetools inspect golang:1.26.7-bookworm`).

ARG GO_IMAGE=golang:1.26.7-bookworm
# TODO: pin by digest, for example golang:1.26.7-bookworm@sha256:<digest>.
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot
# TODO: pin by digest, for example gcr.io/distroless/static-debian12:nonroot@sha256:<digest>.

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

# Module files first, so the download layer is reused while only code changes.
# go.work lists every workspace module, so each of their go.mod files must be
# present for the workspace to load.
COPY go.work go.work.sum ./
COPY gen/go.mod gen/go.sum gen/
COPY platform/go.mod platform/go.sum platform/
COPY identity/go.mod identity/go.sum identity/
COPY tenancy/go.mod tenancy/go.sum tenancy/
COPY secrets/go.mod secrets/go.sum secrets/
COPY dokkuexec/go.mod dokkuexec/go.sum dokkuexec/
COPY mcpedge/go.mod mcpedge/go.sum mcpedge/
COPY devstack/go.mod devstack/go.sum devstack/
COPY testhost/go.mod testhost/go.sum testhost/
COPY tools/buf/go.mod tools/buf/go.sum tools/buf/
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download

COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    mkdir -p /out && \
    for service in identity tenancy secrets dokkuexec mcpedge; do \
        go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/$service ./$service/cmd/$service || exit 1; \
    done

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/ /usr/local/bin/
# 65532 is the distroless "nonroot" user; numeric so that Kubernetes'
# runAsNonRoot check can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080 8081 8082 8083 8084
ENTRYPOINT ["/usr/local/bin/mcpedge"]
