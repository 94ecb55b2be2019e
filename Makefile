# NexMDM. `make run` serves everything; `make test` runs every test.
# Both bring up project-local PostgreSQL and Redis under .data/ unless
# DATABASE_URL / REDIS_URL point elsewhere.

GO := $(shell scripts/ensure-go.sh)
export GOFLAGS := -buildvcs=false
BIN := bin

.PHONY: all build agent-android run test vet bench services services-down migrate clean

all: build

build:
	$(GO) build -o $(BIN)/nexmdm ./cmd/nexmdm
	$(GO) build -o $(BIN)/loadgen ./cmd/loadgen
	$(GO) build -o $(BIN)/nexmdm-agent ./cmd/nexmdm-agent

# The agent as a native Android binary, to push with adb (see README).
agent-android:
	GOOS=android GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o $(BIN)/nexmdm-agent-android-arm64 ./cmd/nexmdm-agent

run: build
	scripts/with-services.sh sh -c '$(BIN)/nexmdm migrate && exec $(BIN)/nexmdm serve'

test:
	GO=$(GO) scripts/with-services.sh scripts/test.sh

# The benchmark: every scenario against NexMDM, a no-op server and the
# per-request baseline, side by side. Writes bench/results/<date>.{json,md}.
bench: build
	scripts/with-services.sh $(BIN)/loadgen bench --nexmdm $(BIN)/nexmdm $(BENCH_FLAGS)

vet:
	$(GO) vet ./...

migrate: build
	scripts/with-services.sh $(BIN)/nexmdm migrate

services:
	scripts/services.sh up
	@scripts/services.sh env

services-down:
	scripts/services.sh down

clean:
	rm -rf $(BIN)
