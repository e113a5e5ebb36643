# Thin wrapper over CMake. `make demo` runs the main job; `make test` runs
# every test (normal build, then an ASan+UBSan build with fuzz smoke runs).
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    ?= build
ASAN     ?= build-asan
TSAN     ?= build-tsan
FUZZTIME ?= 60
RUNS     ?=
COV      ?= build-cov
SEEDS    ?= 200
FIRST    ?= 1
SOAK_MIN ?= 3
SOAK_MAX ?= 1000
SCALE_SIZES ?= 10 50 100
PREFIX   ?= /usr/local
DESTDIR  ?=

DEB_PKGS = build-essential cmake pkg-config clang clang-format libclang-rt-14-dev \
           libuv1-dev libmsgpack-dev libssl-dev zlib1g-dev liburcu-dev \
           libjansson-dev libmicrohttpd-dev libpcre2-dev libcmocka-dev serf python3 \
           python3-consul iproute2 procps curl nftables \
           debhelper dpkg-dev fakeroot lintian groff-base man-db

.PHONY: all deps build test test-normal test-asan tsan demo bench fuzz fuzz-merge coverage valgrind \
        clean format install deb soak faults

all: build

deps:
	@tools/deps.sh $(DEB_PKGS)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN)/CMakeCache.txt:
	CC=clang cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug \
	  -DCAIRN_SANITIZE=ON -DCAIRN_FUZZ=ON

test: deps test-normal test-asan

test-normal: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE 'interop|faults'

tsan: deps
	CC=clang cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCAIRN_TSAN=ON -DCAIRN_INTEROP=OFF
	cmake --build $(TSAN) -j $(JOBS)
	cd $(TSAN) && ctest --output-on-failure -L tsan

# Headers, libcairn.so.0 + libcairn.a, cairn, cairn.pc, the CMake package,
# man pages, docs and examples under $(DESTDIR)$(PREFIX).
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# Debian packages cairn, libcairn0, libcairn-dev (and -dbgsym) in $(BUILD)/deb/.
deb: deps
	tools/build_deb.sh $(BUILD)/deb

# The seeded fault campaign on the simulator (docs/soak.md): SEEDS seeds
# from FIRST, clusters of SOAK_MIN..SOAK_MAX members; a failing seed prints
# the command that replays it.
soak: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target soak
	$(BUILD)/soak --seeds $(SEEDS) --first $(FIRST) --min-members $(SOAK_MIN) \
	  --max-members $(SOAK_MAX) --quiet

# Real agents in network namespaces under kernel-made faults (docs/faults.md),
# the long version (longer partition and loss phases); needs root.
faults: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target cairn-cli
	cd $(BUILD) && CAIRN_FAULTS_LONG=1 ctest --output-on-failure -L faults

demo: build
	@tools/demo.sh $(BUILD)

bench: build
	@for b in $(BUILD)/bench_*; do [ -x "$$b" ] && "$$b"; done
	@bench/bench_agent.sh $(BUILD)/cairn
	@bench/bench_agents_scale.sh --cairn $(BUILD)/cairn $(SCALE_SIZES)
	@bench/bench_lifeguard_real.py --cairn $(BUILD)/cairn
	@bench/go/run.sh $(BUILD)

# Each fuzz target in turn for FUZZTIME seconds, or RUNS executions when RUNS
# is set (make fuzz RUNS=10000000), with its dictionary (fuzz/dict/MAP); new
# inputs go to $(ASAN)/fuzz-scratch/. Prints executions per target at the end.
# FUZZ=msg limits the run to some targets. docs/fuzzing.md.
fuzz: deps $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j $(JOBS)
	FUZZTIME=$(FUZZTIME) RUNS=$(RUNS) tools/fuzz.sh run $(ASAN) $(FUZZ)

# Merge the inputs of the last `make fuzz` that add coverage into
# fuzz/corpus/<target>/ (commit them).
fuzz-merge: $(ASAN)/CMakeCache.txt
	tools/fuzz.sh merge $(ASAN) $(FUZZ)

# Line coverage of the decoders by the checked-in fuzz corpora (clang
# source-based coverage; llvm-profdata-14, llvm-cov-14).
coverage: deps
	CC=clang cmake -S . -B $(COV) -DCMAKE_BUILD_TYPE=Debug -DCAIRN_FUZZ=ON \
	  -DCAIRN_COVERAGE=ON -DCAIRN_INTEROP=OFF
	cmake --build $(COV) -j $(JOBS) --target \
	  $$(for f in fuzz/fuzz_*.c; do basename $$f .c; done)
	tools/fuzz_coverage.sh $(COV)

# Unit and simulator tests of the normal build under valgrind memcheck.
valgrind: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	tools/valgrind.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(COV)
