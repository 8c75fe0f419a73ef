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
# The integration test files test-asan and test-tsan run (names under tests/integration).
SANITIZER_TESTS ?= *.test.mjs

.PHONY: all setup build serve test unit-test integration-test fuzz-build fuzz fuzz-smoke test-asan test-tsan thread-safety bench clean

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
	@cmake --build build/asan -j$(JOBS) --target litehouse disk_full_preload
	cd tests/integration && ASAN_OPTIONS=detect_leaks=0 LITEHOUSE_SANITIZED=1 LITEHOUSE_BIN=$(abspath build/asan)/litehouse \
	  node --test --test-concurrency=1 $(SANITIZER_TESTS)

# The engine's and replication's unit tests (a few seconds), then the integration tests, against a
# ThreadSanitizer build (build/tsan: the `tsan` preset, GCC); the harness fails a test whose server
# reported a data race. halt_on_error=0 (TSan's default, said here) keeps going after a report, so
# one run shows every race; exitcode=66 fails a unit test binary that made one. No suppressions: none
# was needed (src/engine/DESIGN.md). Not part of `make test`: it takes many times longer.
TSAN_OPTIONS_RUN = halt_on_error=0 exitcode=66 second_deadlock_stack=1
test-tsan: setup
	@cmake --preset tsan >/dev/null
	@cmake --build build/tsan -j$(JOBS) --target litehouse disk_full_preload engine_test replication_test
	TSAN_OPTIONS="$(TSAN_OPTIONS_RUN)" build/tsan/tests/unit/engine_test --gtest_brief=1
	TSAN_OPTIONS="$(TSAN_OPTIONS_RUN)" build/tsan/tests/unit/replication_test --gtest_brief=1
	cd tests/integration && TSAN_OPTIONS="$(TSAN_OPTIONS_RUN)" LITEHOUSE_SANITIZED=1 \
	  LITEHOUSE_BIN=$(abspath build/tsan)/litehouse node --test --test-concurrency=1 $(SANITIZER_TESTS)

# clang's thread-safety analysis (-Wthread-safety, an error) over the engine and replication, whose
# locks say which fields they guard (src/common/thread_annotations.h): the `thread-safety` preset,
# clang 14, in build/thread-safety. Compiles only those modules and what they link.
thread-safety: setup
	@cmake --preset thread-safety >/dev/null
	@cmake --build build/thread-safety -j$(JOBS) --target litehouse_engine litehouse_replication

bench: build
	@scripts/setup.sh --bench
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse INPROC_BIN=$(BUILD_DIR)/bench/sqlite_inproc LOAD_BIN=$(BUILD_DIR)/bench/hrana_load CLIENT_BIN=$(BUILD_DIR)/bench/client_latency bench/run.sh
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse bench/import.sh
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse bench/replication.sh
	LITEHOUSE_BIN=$(BUILD_DIR)/litehouse bench/backup.sh
	VECTOR_BENCH_BIN=$(BUILD_DIR)/bench/vector_index_bench bench/vector_index.sh

clean:
	rm -rf build
