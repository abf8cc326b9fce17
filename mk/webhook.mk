# netvol-webhook: the HTTPS mutating admission webhook (webhook/), its unit
# tests (tests/unit/test_mutate.c), fuzz target (fuzz/) and benchmark.
WEBHOOK_LIBS := -lmicrohttpd -lgnutls -lcjson
WEBHOOK_SRC := $(sort $(wildcard webhook/*.c))
WEBHOOK_OBJ := $(WEBHOOK_SRC:%.c=$(BUILD)/%.o)
# The pure parts, linked into the unit tests and the fuzz target.
WEBHOOK_PURE_OBJ := $(BUILD)/webhook/mutate.o

ALL_TARGETS += $(BIN)/netvol-webhook

$(BIN)/netvol-webhook: $(WEBHOOK_OBJ) $(LIBNETVOL)
	@mkdir -p $(dir $@)
	$(CC) $(NV_LDFLAGS) -o $@ $(WEBHOOK_OBJ) $(LIBNETVOL) $(WEBHOOK_LIBS) $(NV_LIBS)

# The mutation's unit tests link the pure module and cJSON (an explicit rule
# wins over the generic tests/unit pattern rule of the top Makefile).
$(BUILD)/tests/unit/test_mutate: tests/unit/test_mutate.c $(WEBHOOK_PURE_OBJ) $(LIBNETVOL) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(NV_CPPFLAGS) -Itests/unit -Iwebhook $(NV_CFLAGS) $(NV_LDFLAGS) -o $@ $< \
	  $(WEBHOOK_PURE_OBJ) $(LIBNETVOL) -lcriterion -lcjson $(NV_LIBS)

-include $(WEBHOOK_OBJ:.o=.d)
