# dokkumcp — see README.md.

MODULES   := platform identity tenancy secrets dokkuexec mcpedge devstack testhost
PACKAGES  := $(MODULES:%=dokkumcp.dev/%/...)
VAULT_BIN := $(or $(DOKKUMCP_VAULT_BIN),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/dokkumcp/vault-1.21.0)
HYDRA_BIN := $(or $(DOKKUMCP_HYDRA_BIN),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/dokkumcp/hydra-2.3.0)
NODE_E2E  := devstack/e2e/node
NODE_CONFORMANCE := mcpedge/conformance

.PHONY: run test generate lint check-generated fmt vet go-test vault hydra node-deps chart-test

## run: start the whole stack with a demo tenant; Ctrl-C stops it.
run:
	go build -o bin/dokkumcp ./devstack/cmd/dokkumcp
	./bin/dokkumcp run

## test: every check and every test, the end-to-end test included.
test: lint check-generated fmt vet go-test chart-test

## generate: regenerate gen/ from proto/.
generate:
	rm -rf gen/dokkumcp
	go tool buf generate

lint:
	go tool buf lint

# check-generated fails when regenerating would change gen/.
check-generated:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	go tool buf generate -o "$$tmp" && \
	diff -r "$$tmp/gen/dokkumcp" gen/dokkumcp || { echo "gen/ is stale: run make generate and commit the result" >&2; exit 1; }

# fmt fails when a Go file outside gen/ is not gofmt-formatted.
fmt:
	@files=$$(git ls-files '*.go' | grep -v '^gen/' | xargs gofmt -l); \
	if [ -n "$$files" ]; then echo "not gofmt-formatted (run gofmt -w):" $$files >&2; exit 1; fi

vet:
	go vet $(PACKAGES)

go-test:
	go test -race -count=1 -timeout 30m $(PACKAGES)

## chart-test: render the Helm chart for each values file and check the objects and NetworkPolicies offline.
# tools/helm is not in go.work: Helm's requirements would join the workspace's build list.
chart-test:
	cd tools/helm && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...

## vault: build the Vault server used by tests into the cache outside the repository.
# The cached binary's name carries the Vault version, so a binary that
# exists is current; a fresh clone's file times must not force a rebuild.
vault:
	@if [ -x "$(VAULT_BIN)" ]; then echo "vault: using $(VAULT_BIN)"; else \
		mkdir -p "$(dir $(VAULT_BIN))" && \
		cd tools/vault && GOWORK=off go build -o "$(VAULT_BIN).tmp" github.com/hashicorp/vault && \
		mv "$(VAULT_BIN).tmp" "$(VAULT_BIN)"; fi

## hydra: build Ory Hydra v2.3.0, which the token benchmark runs next to
## Identity, into the cache outside the repository. make test does not need it.
# tools/hydra is not in go.work, like tools/vault. The version is set at link
# time because `hydra version` would otherwise print "master".
hydra:
	@if [ -x "$(HYDRA_BIN)" ]; then echo "hydra: using $(HYDRA_BIN)"; else \
		mkdir -p "$(dir $(HYDRA_BIN))" && \
		cd tools/hydra && GOWORK=off go build -ldflags "-X github.com/ory/hydra/v2/driver/config.Version=v2.3.0" \
			-o "$(HYDRA_BIN).tmp" github.com/ory/hydra/v2 && \
		mv "$(HYDRA_BIN).tmp" "$(HYDRA_BIN)"; fi

## node-deps: install the TypeScript SDK used by the end-to-end test and the
## MCP conformance suite run against mcpedge, from their lockfiles.
node-deps:
	cd $(NODE_E2E) && npm ci --no-audit --no-fund
	cd $(NODE_CONFORMANCE) && npm ci --no-audit --no-fund
	cd devstack/e2e/node-modern && npm ci --no-audit --no-fund
