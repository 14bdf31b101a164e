# pipa — see README.md. `make run` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BIN := $(CURDIR)/.bin
TOOLS := buf protoc-gen-go protoc-gen-go-grpc protoc-gen-grpc-gateway protoc-gen-openapiv2 kustomize staticcheck
TOOL_PKGS := github.com/bufbuild/buf/cmd/buf google.golang.org/protobuf/cmd/protoc-gen-go \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 \
	sigs.k8s.io/kustomize/kustomize/v5 honnef.co/go/tools/cmd/staticcheck
SERVICES := $(notdir $(wildcard proto/pipa/*))
OVERLAYS := deploy/k8s/overlays/monolithic deploy/k8s/overlays/microservices
MODULES := $(shell go list -m -f '{{.Dir}}' 2>/dev/null)
# The law catalogue beside the repository (CI lays shared/ beside the clone; a git worktree one
# level deeper finds it one level further up).
LAW ?= $(firstword $(wildcard ../shared/design/LAW.md ../../shared/design/LAW.md))
# axe-core, the accessibility engine the browser checks run in Chromium (KWCAG 2.2), from npm.
AXE_VERSION := 4.10.3
AXE := $(BIN)/axe-core/axe.min.js
# Whether the browser checks can run here: Debian's chromium, a Korean font and axe-core.
BROWSER_READY = command -v chromium >/dev/null && command -v pdftotext >/dev/null && fc-list :lang=ko | grep -q . && test -f $(AXE)

.PHONY: all build generate lint check-generated lawindex check-lawindex manifests test bench bench-growth bench-page screenshots browser-tools run db db-stop tools clean

all: build

# Also on the Makefile, which names the tools (TOOL_PKGS).
$(BIN)/.stamp: deploy/tools/go.mod deploy/tools/go.sum Makefile
	cd deploy/tools && GOWORK=off go build -o $(BIN)/ $(TOOL_PKGS)
	touch $@

tools: $(BIN)/.stamp

## generate: regenerate pkg/gen from proto/ (messages, gRPC, REST gateway, OpenAPI: protoc-gen-openapiv2's
## documents completed by services/pipa/internal/apidoc into the ones pipa serves), the client the
## contract tests generate from them (services/pipa/internal/apiclient, oapi-codegen), and the Grafana
## dashboards and PrometheusRule (deploy/monitoring).
generate: tools
	rm -rf pkg/gen/pipa
	$(BIN)/buf generate
	swagger=$$(mktemp -d); trap 'rm -rf $$swagger' EXIT; \
	for svc in $(SERVICES); do \
	  cfg=proto/pipa/$$svc/v1/$$svc.http.yaml; \
	  $(BIN)/buf generate --path proto/pipa/$$svc --template "{\"version\":\"v2\",\"plugins\":[\
	{\"local\":\"$(BIN)/protoc-gen-grpc-gateway\",\"out\":\"pkg/gen\",\"opt\":[\"paths=source_relative\",\"grpc_api_configuration=$$cfg\"]},\
	{\"local\":\"$(BIN)/protoc-gen-openapiv2\",\"out\":\"$$swagger\",\"opt\":[\"grpc_api_configuration=$$cfg\",\"allow_merge=true\",\"merge_file_name=$$svc\",\"json_names_for_fields=true\",\"expand_slashed_path_patterns=true\"]}]}"; \
	done; \
	cd services/pipa && go run ./internal/apidoc/gen -protoc $$swagger -out $(CURDIR)/pkg/gen/openapi
	cd services/pipa/internal/apiclient && go tool oapi-codegen -config oapi-codegen.yaml $(CURDIR)/pkg/gen/openapi/pipa.v3.json
	cd deploy/monitoring && go run ./cmd/generate

## lint: buf lint, go vet and staticcheck over every module.
lint: tools
	$(BIN)/buf lint
	for m in $(MODULES); do (cd $$m && go vet ./... && $(BIN)/staticcheck ./...); done

## check-generated: fail when a generated file (GENERATED) is not what `make generate` produces.
GENERATED := pkg/gen services/pipa/internal/apiclient deploy/monitoring/grafana deploy/k8s/components/monitoring/prometheusrule.yaml
check-generated: generate
	@git diff --exit-code --stat -- $(GENERATED) || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- $(GENERATED))" || { git ls-files --others --exclude-standard -- $(GENERATED); echo "generated code is not committed: run make generate and commit"; exit 1; }

## lawindex: docs/LAW-INDEX.md, where the code enforces each rule of LAW.md and which tests name it;
## fails when code cites a rule that no test names.
lawindex:
	@test -n "$(LAW)" || { echo "LAW.md is not at ../shared/design/LAW.md: set LAW=path/to/LAW.md"; exit 1; }
	go run ./pkg/cmd/lawindex -law $(LAW) -out docs/LAW-INDEX.md

## check-lawindex: fail when docs/LAW-INDEX.md is not what `make lawindex` writes.
check-lawindex: lawindex
	@git diff --exit-code --stat -- docs/LAW-INDEX.md || { echo "docs/LAW-INDEX.md is stale: run make lawindex and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- docs/LAW-INDEX.md)" || { echo "docs/LAW-INDEX.md is not committed: run make lawindex and commit"; exit 1; }

## manifests: build both Kubernetes overlays of deploy/k8s to stdout, failing on any error.
manifests: tools
	@for o in $(OVERLAYS); do printf -- '---\n# %s\n' $$o; $(BIN)/kustomize build $$o || exit 1; done

build:
	go build -o $(BIN)/pipa ./services/pipa

## db: start the private PostgreSQL under .data/ and print its DATABASE_URL.
db:
	@deploy/dev/postgres.sh start

db-stop:
	@deploy/dev/postgres.sh stop

## test: every test of every module against a real PostgreSQL (private one when DATABASE_URL is unset),
## after the generated code, the LAW index, the linters and the Kubernetes manifests (built, not
## printed). The browser checks (axe-core in Chromium) run when their tools are here, which make
## installs as root; otherwise they are skipped and the run ends by saying so (CI,
## PIPA_REQUIRE_BROWSER, fails).
test: check-generated check-lawindex lint
	$(MAKE) -s manifests >/dev/null
	@[ "$$(id -u)" != 0 ] || $(BROWSER_READY) || $(MAKE) -s browser-tools
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/dev/postgres.sh start)} || exit 1; export DATABASE_URL; \
	export PIPA_AXE=$(AXE); \
	for m in $(MODULES); do (cd $$m && go test -count=1 ./...); done
	@$(BROWSER_READY) || echo "make test: skipped the browser checks (accessibility of the public pages with axe-core in Chromium, print stylesheet): they need chromium, fonts-nanum, poppler-utils and axe-core; install them with: sudo make browser-tools"

## browser-tools: what the browser checks need: Debian's chromium, fonts-nanum and poppler-utils (the PDF notices' text; as root, with
## nodejs and npm when npm is missing; only what is missing, so a NodeSource nodejs stays) and axe-core $(AXE_VERSION) from npm into .bin/.
browser-tools:
	@pkgs=; command -v chromium >/dev/null || pkgs="$$pkgs chromium"; \
	  fc-list :lang=ko 2>/dev/null | grep -q . || pkgs="$$pkgs fonts-nanum"; \
	  command -v pdftotext >/dev/null || pkgs="$$pkgs poppler-utils"; \
	  command -v npm >/dev/null || pkgs="$$pkgs nodejs npm"; \
	  [ -z "$$pkgs" ] || { \
	  [ "$$(id -u)" = 0 ] || { echo "install$$pkgs: sudo make browser-tools"; exit 1; }; \
	  apt-get update && apt-get install -y --no-install-recommends $$pkgs; }
	@test -f $(AXE) || { mkdir -p $(BIN)/npm $(dir $(AXE)) && \
	  npm install --prefix $(BIN)/npm --no-save --no-audit --no-fund axe-core@$(AXE_VERSION) >/dev/null && \
	  cp $(BIN)/npm/node_modules/axe-core/axe.min.js $(AXE); }

## bench: issue 18's comparison in one run, from outside a pipa process (deploy/bench/bench.sh):
## pgbench's bare INSERT per commit, appends over REST and gRPC to 1, 16 and 10,000 logs, the public
## page against a static file server, start-up to ready with those logs; prints the ratios.
bench:
	deploy/bench/bench.sh

## bench-growth: how cost grows with the number of units (issue 18), one pipa and database growing
## to 100, 1,000 and 10,000 units: appends, request intake, the retention sweep (items created over
## REST, every unit swept to completion) and the public page at each; prints the markdown table.
bench-growth:
	BENCH_GROWTH=$${BENCH_GROWTH:-100,1000,10000} BENCH_OPEN_FOR=$${BENCH_OPEN_FOR:-10m} deploy/bench/bench.sh

## bench-page: the public policy page and JSON under 64 concurrent clients (in-process Go benchmark).
bench-page:
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/dev/postgres.sh start)} || exit 1; export DATABASE_URL; \
	cd services/registry && go test -run '^$$' -bench BenchmarkPublicPolicy -benchtime 5s .

## screenshots: the public pages in headless Chromium, checked and photographed into docs/
## (1280 px, and the policy page at 360 px too).
screenshots: browser-tools
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/dev/postgres.sh start)} || exit 1; export DATABASE_URL; \
	cd services/pipa && PIPA_AXE=$(AXE) PIPA_REQUIRE_BROWSER=1 PIPA_SCREENSHOTS=$(CURDIR)/docs go test -count=1 -run TestPublicPagesInChromium -v .

## run: build, migrate, load the demo tenants and serve everything (monolithic mode).
run: build
	DATABASE_URL=$${DATABASE_URL:-$$(deploy/dev/postgres.sh start)} || exit 1; export DATABASE_URL; \
	$(BIN)/pipa dev

clean:
	rm -rf $(BIN)
