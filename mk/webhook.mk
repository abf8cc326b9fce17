# netvol-webhook: the HTTPS mutating admission webhook (webhook/), its unit
# tests (tests/unit/test_mutate.c, test_jsonpatch.c...), fuzz target (fuzz/) and benchmark.
WEBHOOK_LIBS := -lmicrohttpd -lgnutls -lcjson
WEBHOOK_SRC := $(sort $(wildcard webhook/*.c))
WEBHOOK_OBJ := $(WEBHOOK_SRC:%.c=$(BUILD)/%.o)
# The pure parts, linked into the unit tests and the fuzz target.
WEBHOOK_PURE_OBJ := $(addprefix $(BUILD)/webhook/,mutate.o mutate_config.o jsonpatch.o arena.o)

ALL_TARGETS += $(BIN)/netvol-webhook

# The webhook uses only the base layer (scripts/layers.py): it is linked with
# just those objects, so building it needs none of the store's or the
# engine's libraries (Dockerfile.webhook installs only what this needs).
BASE_OBJ := $(filter $(BUILD)/common/base/%,$(COMMON_OBJ))
LIBNETVOL_BASE := $(BUILD)/libnetvol-base.a

$(LIBNETVOL_BASE): $(BASE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/netvol-webhook: $(WEBHOOK_OBJ) $(LIBNETVOL_BASE)
	@mkdir -p $(dir $@)
	$(CC) $(NV_LDFLAGS) -o $@ $(WEBHOOK_OBJ) $(LIBNETVOL_BASE) $(WEBHOOK_LIBS) -lpthread

# The webhook modules' unit tests link the pure modules and cJSON (an
# explicit rule wins over the generic tests/unit pattern rule of the top
# Makefile).
WEBHOOK_UNIT := $(addprefix $(BUILD)/tests/unit/,test_mutate test_jsonpatch test_mutate_config)
$(WEBHOOK_UNIT): $(BUILD)/tests/unit/%: tests/unit/%.c $(WEBHOOK_PURE_OBJ) $(LIBNETVOL) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(NV_CPPFLAGS) -Itests/unit -Iwebhook $(NV_CFLAGS) $(NV_LDFLAGS) -o $@ $< \
	  $(WEBHOOK_PURE_OBJ) $(LIBNETVOL) -lcriterion -lcjson $(NV_LIBS)

-include $(WEBHOOK_OBJ:.o=.d)

# libFuzzer target for the review parser and the mutation (clang). `make
# webhook-fuzz` runs it for WEBHOOK_FUZZ_SECONDS from the kept seed corpus
# fuzz/corpus/admission (new inputs go to $(BUILD)/fuzz/corpus, not the repo).
WEBHOOK_FUZZ_SECONDS ?= 20
WEBHOOK_FUZZ_SRC := fuzz/fuzz_admission.c webhook/mutate.c webhook/mutate_config.c \
  webhook/jsonpatch.c webhook/arena.c common/base/buf.c common/base/fs.c common/base/mem.c \
  common/base/err.c common/base/version.c
FUZZ_CC ?= clang

$(BUILD)/fuzz/fuzz_admission: $(WEBHOOK_FUZZ_SRC) $(wildcard webhook/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(NV_CPPFLAGS) -Iwebhook -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -o $@ $(WEBHOOK_FUZZ_SRC) -lcjson $(NV_LIBS)

.PHONY: webhook-fuzz
webhook-fuzz: $(BUILD)/fuzz/fuzz_admission
	@mkdir -p $(BUILD)/fuzz/corpus
	@$(BUILD)/fuzz/fuzz_admission -max_total_time=$(WEBHOOK_FUZZ_SECONDS) -max_len=16384 \
	  -rss_limit_mb=2048 -print_final_stats=0 -dict=fuzz/admission.dict \
	  $(BUILD)/fuzz/corpus fuzz/corpus/admission >$(BUILD)/fuzz/fuzz.log 2>&1 \
	  || { tail -n 60 $(BUILD)/fuzz/fuzz.log; echo "webhook-fuzz: FAILED (crash input saved in the current folder)"; exit 1; }
	@grep -E '^#[0-9]+.*DONE' $(BUILD)/fuzz/fuzz.log | tail -n 1
	@echo "webhook-fuzz: ok, no crash in $(WEBHOOK_FUZZ_SECONDS)s"

TEST_TARGETS += webhook-fuzz

# Benchmark (never part of the tests): see docs/BENCHMARKS.md.
.PHONY: bench-webhook
bench-webhook: $(BIN)/netvol-webhook
	@tests/webhook/bench.sh $(abspath $(BIN))

# The hostile-load test for a minute instead of a few seconds (issue 7):
# slow clients, then valid and malformed admissions mixed; zero 5xx, flat RSS.
.PHONY: soak-webhook
soak-webhook: build-all
	@WH_SOAK_SECONDS=60 T=t0550 NETVOL_BIN=$(abspath $(BIN)) tests/integration/run.sh
