# netvol - see README.md. `make` builds, `make test` runs every test,
# `make asan` runs them under AddressSanitizer + UndefinedBehaviorSanitizer.
VERSION := 0.1.0
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

CC ?= cc
OPT ?= -O2 -g
SAN ?=
BUILD ?= build
BIN ?= bin
# Static builds (make static) set these.
LDSTATIC ?=

NV_CPPFLAGS := -D_GNU_SOURCE -Icommon -DNV_VERSION=\"$(VERSION)\" -DNV_GIT_COMMIT=\"$(GIT_COMMIT)\"
NV_CFLAGS := -std=c11 -Wall -Wextra -Werror -pthread $(OPT) $(SAN) $(CFLAGS)
NV_LDFLAGS := -pthread $(SAN) $(LDFLAGS)
# Libraries of libnetvol (the order matters for static links).
NV_LIBS ?= -larchive -lcurl -lexpat -lzstd -lssl -lcrypto -lpthread -lm

COMMON_SRC := $(sort $(wildcard common/*/*.c common/*/*/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIBNETVOL := $(BUILD)/libnetvol.a

INIT_SRC := $(sort $(wildcard init/*.c))
INIT_OBJ := $(INIT_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)

# Fragments in mk/ add to these.
ALL_TARGETS := $(BIN)/netvol $(BIN)/netvol-restore $(BIN)/netvol-sync
TEST_TARGETS :=
# Targets `make asan` runs too (inside the sanitizer build variables).
ASAN_TEST_TARGETS :=

ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1
export ASAN_OPTIONS
UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export UBSAN_OPTIONS

.PHONY: all clean test test-unit asan-run FORCE test-integration check checksrc format \
	asan deps demo bench static help
all: build-all

-include $(sort $(wildcard mk/*.mk))

build-all: $(ALL_TARGETS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(NV_CPPFLAGS) $(NV_CFLAGS) -MMD -MP -c $< -o $@

# version.o carries the commit: rebuild it when the commit changes.
$(BUILD)/commit.stamp: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(GIT_COMMIT)" ] || echo "$(GIT_COMMIT)" >$@
$(BUILD)/common/base/version.o: $(BUILD)/commit.stamp
FORCE:

$(LIBNETVOL): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/netvol: $(INIT_OBJ) $(LIBNETVOL)
	@mkdir -p $(dir $@)
	$(CC) $(NV_LDFLAGS) $(LDSTATIC) -o $@ $(INIT_OBJ) $(LIBNETVOL) $(NV_LIBS)

$(BIN)/netvol-restore $(BIN)/netvol-sync: $(BIN)/netvol
	ln -sf netvol $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIBNETVOL) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(NV_CPPFLAGS) -Itests/unit $(NV_CFLAGS) $(NV_LDFLAGS) -o $@ $< $(LIBNETVOL) -lcriterion $(NV_LIBS)

deps:
	@scripts/deps.sh

checksrc:
	@scripts/checksrc.sh
	@scripts/layers.py --check

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check: checksrc build-all
	@scripts/checkformat.sh

test-unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

TEST_TOOLS := $(BUILD)/tests/tools/nvcraft $(BUILD)/tests/tools/hangfs

$(BUILD)/tests/tools/hangfs: tests/tools/hangfs.c
	@mkdir -p $(dir $@)
	$(CC) $(NV_CFLAGS) $$(pkg-config --cflags fuse3) $(NV_LDFLAGS) -o $@ $< $$(pkg-config --libs fuse3)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBNETVOL)
	@mkdir -p $(dir $@)
	$(CC) $(NV_CPPFLAGS) $(NV_CFLAGS) $(NV_LDFLAGS) -o $@ $< $(LIBNETVOL) $(NV_LIBS)

test-integration: build-all $(TEST_TOOLS)
	@NETVOL_BIN=$(abspath $(BIN)) NETVOL_TEST_TOOLS=$(abspath $(BUILD)/tests/tools) tests/integration/run.sh

test: deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-integration
	@for t in $(TEST_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  NETVOL_ASAN=1 asan-run

asan-run: test-unit test-integration
	@for t in $(ASAN_TEST_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

demo: deps build-all
	@scripts/demo.sh $(abspath $(BIN))

clean:
	rm -rf build bin

-include $(COMMON_OBJ:.o=.d) $(INIT_OBJ:.o=.d)
