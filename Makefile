# microscaler: plain Makefile. `make` builds bin/microscaler; `make test` runs every test;
# `make run` starts the demo; `make deps` installs what a fresh Debian 12 machine lacks.
CC      ?= cc
PKGS    := libuv libcurl libwebsockets libcjson hiredis libcrypto
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

BUILD   ?= build
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
OPT     ?= -O2 -g
SAN     ?=
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(SAN) $(PKG_CFLAGS) -I. \
	   -DMSS_VERSION='"$(VERSION)"' -DMSS_GIT_REV='"$(GIT_REV)"' -MMD -MP
LDFLAGS += $(SAN)
LDLIBS  += $(PKG_LIBS) -lm

# Every .c under the module folders is part of the library; cmd/main.c is the program.
LIB_SRC  := $(filter-out cmd/main.c,$(sort $(wildcard cmd/*.c demand/*.c demand/metrics/*.c \
	     scheduler/*.c monitor/*.c utils/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/monitor/dashboard_html.o
LIB      := $(BUILD)/libmicroscaler.a
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_BIN := $(TOOL_SRC:tools/%.c=bin/microscaler-%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps deps-ok run test unit integration asan clang format lint bench clean image

all: bin/microscaler $(TOOL_BIN)

bin/microscaler: $(BUILD)/cmd/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/microscaler-%: tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The dashboard page, embedded in the binary as a byte array: no build step beyond od and sed.
$(BUILD)/monitor/dashboard_html.c: monitor/dashboard.html
	@mkdir -p $(@D)
	{ echo '/* Generated from monitor/dashboard.html by the Makefile. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char api_dashboard_html[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00};'; \
	  echo 'const size_t api_dashboard_html_len = sizeof api_dashboard_html - 1;'; } >$@

$(BUILD)/monitor/dashboard_html.o: $(BUILD)/monitor/dashboard_html.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(shell pkg-config --libs cmocka 2>/dev/null)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Install build and test dependencies (apt-get update once, then apt-get install).
deps:
	tools/deps.sh install

# Install only when something is missing, so run/test work on a fresh machine.
deps-ok:
	@tools/deps.sh check >/dev/null 2>&1 || tools/deps.sh install

# The demo: toy scheduler, built-in config, a live table each second. Override any MSS_* on the
# command line, e.g. `make run MSS_TICK_MS=250`.
run: deps-ok
	@$(MAKE) --no-print-directory all
	MSS_SCHEDULER=$${MSS_SCHEDULER:-TOY} MSS_CONFIG=$${MSS_CONFIG:-DEMO} \
	MSS_MONITOR=$${MSS_MONITOR:-TABLE} bin/microscaler

# The CI contract (.ci/run). Unit tests on the release build, every fuzz crasher and seed replayed,
# then the unit and integration suites against the ASan+UBSan build (the integration suite runs
# once, on the sanitized programs: the same code with every memory error and leak fatal), then a
# short libFuzzer run of every target. `make integration` runs it on the release build.
test: deps-ok
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-replay
	@$(MAKE) --no-print-directory asan-test
	@$(MAKE) --no-print-directory fuzz-smoke FUZZ_SMOKE_SECONDS=$(CI_FUZZ_SECONDS)

unit: $(UNIT_BIN)
	@tools/run-unit.sh $(UNIT_BIN)

integration: all
	@tools/run-integration.sh

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, in a separate build tree.
asan: deps-ok
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" unit

# The same build under clang (the default CC is gcc on Debian).
clang:
	@$(MAKE) --no-print-directory CC=clang BUILD=build-clang all

bench: all $(BENCH_BIN)
	@tools/run-bench.sh $(BENCH_BIN)

# The soak (issue 9): SOAK_MINUTES (default 30) of random remote demand against a private dockerd,
# checked every second; writes bench/results/soak.md. Root; not part of `make test` or `make bench`.
.PHONY: soak
soak: all
	@bench/soak

format:
	clang-format -i $(LIB_SRC) cmd/main.c $(wildcard */*.h */*/*.h) $(UNIT_SRC) $(TOOL_SRC) $(BENCH_SRC)

lint:
	clang-tidy --quiet $(LIB_SRC) cmd/main.c -- $(CSTD) $(PKG_CFLAGS) -I. -DMSS_VERSION=\"lint\" \
		-DMSS_GIT_REV=\"lint\"
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem -I. $(LIB_SRC) cmd/main.c

# ---- Fuzzing (tests/fuzz/, see its README) ----
# fuzz:        every target under libFuzzer (clang, ASan+UBSan) for FUZZ_SECONDS each, FUZZ_JOBS at once
# fuzz-smoke:  the same for FUZZ_SMOKE_SECONDS each (the CI run)
# fuzz-replay: the committed corpus and crashers through each target once, built with $(CC) and
#              ASan+UBSan but without libFuzzer (regression inputs that need no clang)
FUZZ_SRC     := $(filter-out tests/fuzz/replay.c,$(sort $(wildcard tests/fuzz/*.c)))
FUZZ_TARGETS := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
# The smoke run's length per target inside `make test`.
CI_FUZZ_SECONDS ?= 15
FUZZ_JOBS    ?= 2
FUZZ_SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
		-fno-omit-frame-pointer
FUZZ_LINK    ?=
FUZZ_MAIN    ?=

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-replay fuzz-replay-build

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_MAIN) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(FUZZ_LINK) -o $@ $< $(FUZZ_MAIN) $(LIB) $(LDLIBS)

fuzz-build:
	@$(MAKE) --no-print-directory CC=clang BUILD=build/fuzz OPT="-O1 -g" \
		SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" FUZZ_LINK=-fsanitize=fuzzer \
		$(FUZZ_TARGETS:%=build/fuzz/fuzz/%)

fuzz: fuzz-build
	@tools/run-fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@tools/run-fuzz.sh run $(FUZZ_SMOKE_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-replay-build:
	@$(MAKE) --no-print-directory BUILD=build/fuzz-replay OPT="-O1 -g" SAN="$(FUZZ_SAN)" \
		FUZZ_MAIN=tests/fuzz/replay.c $(FUZZ_TARGETS:%=build/fuzz-replay/fuzz/%)

fuzz-replay: fuzz-replay-build
	@tools/run-fuzz.sh replay 0 1 $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-clang bin

# The container image, with no registry: tools/image.sh makes the debian:bookworm-slim base with
# debootstrap (cached in build/image/), imports it and builds the Dockerfile on $DOCKER_HOST or a
# private engine; test-image runs it against a private engine (tests/integration/test_image.sh).
.PHONY: test-image
image:
	tools/image.sh

test-image: bin/microscaler
	bash tests/integration/test_image.sh

-include $(LIB_OBJ:.o=.d) $(BUILD)/cmd/main.d

# ---- sanitizers and valgrind (issue 9) -------------------------------------------------------
# asan-test: unit and integration tests against an ASan+UBSan build (build-asan/, programs in
# build-asan/bin). valgrind: the same under memcheck, with the normal build. Both fail on any
# report or definite leak; tests/integration/lib.sh checks the programs' report files.
ASAN_MAKE := $(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
VALGRIND  := valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --error-exitcode=99 --track-fds=no \
	--suppressions=$(CURDIR)/tools/valgrind.supp
# Timing under valgrind: every integration wait_for deadline is multiplied by this.
VALGRIND_SLOW ?= 10

.PHONY: asan-bin asan-test asan-integration valgrind valgrind-unit valgrind-integration

$(BUILD)/bin/microscaler: $(BUILD)/cmd/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/microscaler-%: tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

asan-bin: deps-ok
	+@$(ASAN_MAKE) build-asan/bin/microscaler $(TOOL_SRC:tools/%.c=build-asan/bin/microscaler-%)

asan-integration: asan-bin
	@MSS_BIN=$(CURDIR)/build-asan/bin/microscaler MSS_TOOLS_DIR=$(CURDIR)/build-asan/bin \
		MSS_SAN_LOG_DIR=$(CURDIR)/build-asan/reports tools/run-integration.sh

# One after the other (not in parallel under -j): the integration tests are timing-sensitive.
asan-test:
	+@$(MAKE) --no-print-directory asan
	+@$(MAKE) --no-print-directory asan-integration

valgrind-unit: deps-ok
	@$(MAKE) --no-print-directory $(UNIT_BIN)
	@MSS_TEST_WRAPPER="$(VALGRIND) -q" tools/run-unit.sh $(UNIT_BIN)

valgrind-integration: deps-ok
	@$(MAKE) --no-print-directory all
	@MSS_BIN_WRAPPER="$(VALGRIND)" MSS_TEST_SLOW=$(VALGRIND_SLOW) \
		MSS_SAN_LOG_DIR=$(CURDIR)/build/valgrind-reports tools/run-integration.sh

valgrind:
	+@$(MAKE) --no-print-directory valgrind-unit
	+@$(MAKE) --no-print-directory valgrind-integration

# Fault injection against a real private dockerd behind tests/integration/fault_proxy.py (root).
# Not part of `test` until the lead wires it in. FAULTS_LOG_DIR=dir keeps the agents' logs.
.PHONY: test-faults
test-faults: all
	@rc=0; for t in tests/integration/test_faults_*.sh; do bash $$t || rc=1; done; exit $$rc

# ---- security (docs/security.md): the integration tests of its claims, alone ----
.PHONY: test-security
test-security: all
	@bash tests/integration/test_security.sh && bash tests/integration/test_rootless.sh
