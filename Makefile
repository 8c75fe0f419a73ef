# The two commands of the README:
#   make serve   install what is missing, build a release binary, serve ./data on 127.0.0.1:8080
#   make test    install what is missing, build, run every test (unit tests under ctest, then the
#                integration tests that drive the real binary with the real npm clients, then a few
#                seconds of each fuzz target)
#   make fuzz    each fuzz target for FUZZ_SECONDS (default 60), one after the other (docs/FUZZING.md)
BUILD_DIR ?= build/release
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
DB_PATH ?= ./data

FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5

.PHONY: all setup build serve test unit-test integration-test fuzz-build fuzz fuzz-smoke test-asan bench clean

all: build

setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLITEHOUSE_BUILD_TESTS=ON >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

serve: build
	$(BUILD_DIR)/litehouse serve --db-path $(DB_PATH) --http-listen-addr $(LISTEN)

unit-test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)

integration-test: build
	cd tests/integration && LITEHOUSE_BIN=$(abspath $(BUILD_DIR))/litehouse node --test --test-concurrency=1 *.test.mjs

test: unit-test integration-test fuzz-smoke

# The libFuzzer targets of fuzz/, in their own clang build (build/fuzz: the `fuzz` preset), which
# compiles only the libraries the decoders need.
fuzz-build: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j$(JOBS) --target fuzzers

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECONDS)

# CI's smoke: every target from its seeds for a few seconds; any crash fails the run.
fuzz-smoke: fuzz-build
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

# The integration tests against an AddressSanitizer + UBSan build (build/asan); the harness fails a
# test whose server reported a sanitizer error.
test-asan: setup
	@cmake --preset asan-ubsan >/dev/null
	@cmake --build build/asan -j$(JOBS) --target litehouse
	cd tests/integration && ASAN_OPTIONS=detect_leaks=0 LITEHOUSE_SANITIZED=1 LITEHOUSE_BIN=$(abspath build/asan)/litehouse \
	  node --test --test-concurrency=1 *.test.mjs

bench: build
	@scripts/setup.sh --bench
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse INPROC_BIN=$(BUILD_DIR)/bench/sqlite_inproc LOAD_BIN=$(BUILD_DIR)/bench/hrana_load CLIENT_BIN=$(BUILD_DIR)/bench/client_latency bench/run.sh
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse bench/import.sh
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse bench/replication.sh
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse bench/backup.sh
	VECTOR_BENCH_BIN=$(BUILD_DIR)/bench/vector_index_bench bench/vector_index.sh

clean:
	rm -rf build
