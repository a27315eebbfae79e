# The two commands: `make demo` and `make test`. Both install what is missing,
# configure and build first.
BUILD ?= build
BUILD_TYPE ?= Debug
SANITIZE ?= ON
JOBS ?= $(shell nproc)

.PHONY: all setup configure build demo test bench format clean

all: build

setup:
	@scripts/setup

configure: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DERGON_SANITIZE=$(SANITIZE) -DERGON_BUILD_BENCH=OFF >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target ergon_cli acme_cloud care_portal
	$(BUILD)/bin/ergon demo --yes

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench:
	@scripts/setup
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DERGON_SANITIZE=OFF -DERGON_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-bench -j $(JOBS) --target engine_bench
	build-bench/bin/engine_bench

# The care-portal workflow run by ergon and by a hand-written Playwright script,
# side by side (bench/browser/README.md). RUNS=N for more runs.
.PHONY: bench-browser
bench-browser:
	@scripts/setup
	JOBS=$(JOBS) bench/browser/run --runs $(or $(RUNS),5)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-bench
