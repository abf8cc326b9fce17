# S3 store (common/store/s3/: s3.c, sigv4.c, http.c, xml.c, aws_cred.c) and its tests.
# The container-credentials JSON is parsed with cJSON.
NV_LIBS += -lcjson

S3_TEST_BIN := $(BUILD)/tests/s3/s3_store_test

$(S3_TEST_BIN): tests/s3/s3_store_test.c $(LIBNETVOL)
	@mkdir -p $(dir $@)
	$(CC) $(NV_CPPFLAGS) $(NV_CFLAGS) $(NV_LDFLAGS) -o $@ $< $(LIBNETVOL) $(NV_LIBS)

# Starts radosgw (tests/s3/rgw.sh, ~5 s) and the fault proxy; runs the
# store-level tests, then the restore/sync integration tests on S3 (directly
# and through the proxy with random faults); stops everything.
.PHONY: test-s3 test-s3-store
test-s3: $(S3_TEST_BIN)
	@$(MAKE) --no-print-directory build-all $(TEST_TOOLS)
	@NETVOL_BIN=$(abspath $(BIN)) NETVOL_TEST_TOOLS=$(abspath $(BUILD)/tests/tools) \
	  tests/s3/run.sh $(abspath $(S3_TEST_BIN))

# The store-level tests only.
test-s3-store: $(S3_TEST_BIN)
	@tests/s3/run.sh $(abspath $(S3_TEST_BIN))

TEST_TARGETS += test-s3
# Under the sanitizers: the store-level S3 suite (every S3 code path, threads,
# the fault proxy); the engine suite on S3 runs in the normal pass.
ASAN_TEST_TARGETS += test-s3-store
