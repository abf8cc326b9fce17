# Static build of netvol (make static -> build/static/bin/netvol), used by
# Dockerfile.init, and its test (make test-static). The minimal libcurl it
# needs is built once from Debian's source and cached in build/static-deps/.
TEST_TARGETS += test-static

.PHONY: test-static
static:
	@scripts/build-static.sh

test-static:
	@scripts/build-static-test.sh
