# NexMDM. `make run` serves everything; `make test` runs every test.
# Both bring up project-local PostgreSQL and Redis under .data/ unless
# DATABASE_URL / REDIS_URL point elsewhere.

GO := $(shell scripts/ensure-go.sh)
export GOFLAGS := -buildvcs=false
BIN := bin

.PHONY: all build binaries ui dev e2e agent-android run test vet bench services services-down migrate clean

all: build

# The server embeds the dashboard's build (admin-ui/dist), so the UI comes first.
build: ui binaries

# Binaries are static (no cgo): they run on any Linux, and a cold build
# skips the C compiler (35 s less of a fresh clone's `make bench` on the
# sixteenth session's machine). Tests with -race need cgo and build apart.
NOCGO := CGO_ENABLED=0

binaries:
	$(NOCGO) $(GO) build -o $(BIN)/ ./cmd/nexmdm ./cmd/loadgen ./cmd/nexmdm-agent

# The dashboard: install its packages when node_modules is missing or older
# than package.json or the lockfile, then npm run build when a source
# changed. Node.js and npm come from scripts/ensure-node.sh (installed when
# missing). npm install, not npm ci: the lockfile cannot list the optional
# native packages of other platforms that this machine's npm registry lacks
# (e.g. @tailwindcss/oxide-darwin-arm64), and npm ci refuses it for that;
# npm install still installs exactly the lockfile's versions.
NODE := scripts/ensure-node.sh
UI_SOURCES := $(shell find admin-ui/src admin-ui/public -type f 2>/dev/null) \
	$(wildcard admin-ui/index.html admin-ui/vite.config.ts admin-ui/tsconfig*.json)

ui: admin-ui/dist/index.html

admin-ui/node_modules/.installed: admin-ui/package.json admin-ui/package-lock.json
	cd admin-ui && ../$(NODE) npm install --no-audit --no-fund
	touch $@

admin-ui/dist/index.html: admin-ui/node_modules/.installed $(UI_SOURCES)
	cd admin-ui && ../$(NODE) npm run build
	touch $@

# The server on :8080 and Vite on :5173 with hot reload, which proxies the
# API and the live feed to the server. Ctrl-C stops both.
dev: admin-ui/node_modules/.installed
	GO=$(GO) scripts/dev.sh

# Only the dashboard's end-to-end tests (make test runs them too).
e2e: build
	scripts/with-services.sh scripts/e2e.sh

# The agent as a native Android binary, to push with adb (see README).
agent-android:
	GOOS=android GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o $(BIN)/nexmdm-agent-android-arm64 ./cmd/nexmdm-agent

run: build
	scripts/with-services.sh sh -c '$(BIN)/nexmdm migrate && exec $(BIN)/nexmdm serve'

test: build
	GO=$(GO) scripts/with-services.sh scripts/test.sh

# The benchmark: every scenario against NexMDM, a no-op server and the
# per-request baseline, side by side. Writes bench/results/<date>.{json,md}.
# PostgreSQL and Redis come up (installed and initialised on a new machine)
# while the two binaries it needs compile, which takes minutes with a cold
# build cache.
bench:
	@scripts/services.sh up & up=$$!; \
	$(NOCGO) $(GO) build -o $(BIN)/ ./cmd/nexmdm ./cmd/loadgen; built=$$?; \
	wait $$up && exit $$built
	scripts/with-services.sh $(BIN)/loadgen bench --nexmdm $(BIN)/nexmdm $(BENCH_FLAGS)

vet:
	$(GO) vet ./...

migrate: binaries
	scripts/with-services.sh $(BIN)/nexmdm migrate

services:
	scripts/services.sh up
	@scripts/services.sh env

services-down:
	scripts/services.sh down

clean:
	rm -rf $(BIN) admin-ui/dist
