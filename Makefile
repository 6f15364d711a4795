# The two commands in README.md: `make up` and `make test`.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
# Unset: /etc/qvpn/qvpn.toml for root, else $XDG_CONFIG_HOME/qvpn/qvpn.toml.
CONFIG ?=

.PHONY: deps build build-asan up test test-unit test-asan test-e2e test-natlab fuzz bench format clean

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DQVPN_SANITIZE=ON -DQVPN_BENCH=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Builds, then runs a node on the default config (created with a fresh key on first run).
up: build
	$(BUILD)/qvpn up $(if $(CONFIG),-c $(CONFIG))

# Every test: unit and simulation (plain and ASan+UBSan), fuzzers for a bounded time, the
# e2e labs, the NAT labs, and the short labs again with the sanitizer builds of the daemons
# (hostile input, wg set, wg-quick, qvpn up, and the NAT lab's hostile case), where a memory
# error aborts the daemon under test.
test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -L unit
	cd $(ASAN_BUILD) && ctest --output-on-failure -L unit
	./scripts/run-fuzzers.sh
	cd $(BUILD) && ctest --output-on-failure -L e2e
	cd $(BUILD) && ctest --output-on-failure -L natlab
	cd $(ASAN_BUILD) && ctest --output-on-failure -L e2e -E 'interop|rekey'
	cd $(ASAN_BUILD) && ctest --output-on-failure -L natlab -R 'hostile|relay_restart|path_fallback'

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

test-e2e: build
	cd $(BUILD) && ctest --output-on-failure -L e2e

test-natlab: build
	cd $(BUILD) && ctest --output-on-failure -L natlab

fuzz: deps
	./scripts/run-fuzzers.sh

bench: build
	./bench/throughput.sh

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
