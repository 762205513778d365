# Grove: `make demo` and `make test` work on a fresh clone (Node 20+ and git).
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json
GEN_STAMP := gen/descriptors.binpb
PROTO_SRC := $(shell find proto -name '*.proto') buf.yaml buf.gen.yaml
BUILD_STAMP := dist/.built

.PHONY: all deps proto build test demo bench clean lint fuzz browser postgres

all: build

# npm ci only when package-lock.json changed since the last install.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NPM_STAMP)

deps: $(NPM_STAMP)

# Generated code is not committed: it is rebuilt from proto/ whenever a .proto changes.
$(GEN_STAMP): $(PROTO_SRC) $(NPM_STAMP)
	npx buf lint
	npx buf generate --exclude-path proto/grpc
	npx buf build -o $(GEN_STAMP)

proto: $(GEN_STAMP)

# The SDK is its own package (clients/sdk, an npm workspace): built first, with declarations,
# because the CLI depends on it by name, the way a user's project does.
$(BUILD_STAMP): $(GEN_STAMP) $(shell find services clients bench wire -name '*.ts' -not -path '*/dist/*' 2>/dev/null) tsconfig.json clients/sdk/tsconfig.json
	npx tsc -p clients/sdk/tsconfig.json
	npx tsc -p tsconfig.json
	node scripts/bundle-cli.mjs
	@touch $(BUILD_STAMP)

# The coordinator's web page: type-checked, then bundled by Vite into dist/web (served as is).
WEB_STAMP := dist/web/index.html
$(WEB_STAMP): $(GEN_STAMP) $(shell find web -type f 2>/dev/null) $(NPM_STAMP)
	npx tsc -p web/tsconfig.json
	npx vite build web

build: $(BUILD_STAMP) $(WEB_STAMP)

# The browser tests drive Debian's Chromium (a test tool's own browser download fails here).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "make test needs Chromium at $(CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

browser: $(CHROMIUM)

# A non-Node gRPC client for the reflection test: Debian's Python gRPC and protobuf.
PY_GRPC := /usr/lib/python3/dist-packages/grpc/__init__.py
$(PY_GRPC):
	@command -v apt-get >/dev/null || { echo "make test needs Debian's python3-grpcio and python3-protobuf"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-grpcio python3-protobuf

# The coordinator-replica tests run a real PostgreSQL server: Debian's, installed when absent
# (the tests start a throwaway cluster of their own under a temp directory; see README).
PG_INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
postgres:
ifeq ($(PG_INITDB),)
	@command -v apt-get >/dev/null || { echo "make test needs PostgreSQL's server (Debian: apt-get install postgresql), or GROVE_TEST_POSTGRES_URL"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
endif

# Habits: proto lint, ESLint (no floating promises, no import cycles) and Prettier.
lint: $(GEN_STAMP)
	npx buf lint
	npx eslint .
	npx prettier --check .

# The JSON results feed one plain summary line for CI logs; vitest's exit code is kept.
# Tests are type-checked too (vitest itself only strips types).
test: build lint $(CHROMIUM) $(PY_GRPC) $(if $(GROVE_TEST_POSTGRES_URL),,postgres)
	npx tsc -p tsconfig.test.json
	@mkdir -p .grove
	npx vitest run --reporter=default --reporter=json --outputFile.json=.grove/vitest-results.json; \
	  status=$$?; node scripts/test-summary.mjs .grove/vitest-results.json; exit $$status

# A longer fuzzing run with a fresh seed (make test runs a short one with a fixed seed).
FUZZ_RUNS ?= 500
fuzz: build
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SEED=$${FUZZ_SEED:-$$RANDOM} npx vitest run test/fuzz.test.ts

demo: build
	bash scripts/demo.sh

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist gen .grove clients/sdk/dist
