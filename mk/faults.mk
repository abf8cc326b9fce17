# The fault and hostile-input suite (issue 7): `make test-faults` runs the
# seeded kill -9 loop (tests/faults/) and every libFuzzer target (fuzz/) for
# FUZZ_SMOKE_SECONDS each; `make fuzz FUZZ_SECONDS=600` fuzzes longer. The
# other fault scenarios are integration tests (tests/integration/t02xx-*.sh),
# so `make test-integration` and `make asan` run them too. docs/RELIABILITY.md
# has the figures.
TEST_TARGETS += test-faults

FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Icommon -DNV_VERSION=\"$(VERSION)\" \
	-DNV_GIT_COMMIT=\"$(GIT_COMMIT)\" -Wall -Wextra -Werror -pthread -g -O1 $(FUZZ_SAN)
FUZZ_BUILD := build/fuzz
FUZZ_TARGETS := head idx manifest config restore legacy
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_LIB := $(FUZZ_BUILD)/libnetvol-fuzz.a
FUZZ_OBJ := $(COMMON_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SMOKE_SECONDS ?= 6
FUZZ_SECONDS ?= 600

.PHONY: test-faults fuzz fuzz-build fuzz-corpus

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(NV_LIBS)

fuzz-build: $(FUZZ_BINS)

# Regenerate the seed corpus with the real encoder (fuzz/corpus/ is committed).
fuzz-corpus: build-all
	@fuzz/gen-corpus.sh $(abspath $(BIN))/netvol

fuzz: $(FUZZ_BINS)
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-faults: build-all $(TEST_TOOLS) $(FUZZ_BINS) test-faults-alloc
	@NETVOL_BIN=$(abspath $(BIN)) NETVOL_TEST_TOOLS=$(abspath $(BUILD)/tests/tools) \
	  tests/faults/run.sh
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

-include $(FUZZ_OBJ:.o=.d)

# Allocation-failure torture of sync and restore (tests/faults/alloc_torture.c),
# also under `make asan` (leaks and use-after-free on every error path).
ASAN_TEST_TARGETS += test-faults-alloc

$(BUILD)/tests/faults/%: tests/faults/%.c $(LIBNETVOL)
	@mkdir -p $(dir $@)
	$(CC) $(NV_CPPFLAGS) $(NV_CFLAGS) $(NV_LDFLAGS) -o $@ $< $(LIBNETVOL) $(NV_LIBS)

.PHONY: test-faults-alloc
test-faults-alloc: $(BUILD)/tests/faults/alloc_torture
	@d=$$(mktemp -d) && $(BUILD)/tests/faults/alloc_torture $$d; rc=$$?; rm -rf $$d; exit $$rc
