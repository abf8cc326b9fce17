# make bench: benchmarks, never part of `make test`. Results go to
# docs/BENCHMARKS.md, each between its <!-- bench:NAME --> markers
# (scripts/bench-merge.sh rewrites a section on each run).
#
#   make bench                    engine (local store) + S3 peers at BENCH_SIZE
#   make bench-engine             bench/engine.sh only
#   make bench-syscalls           system calls per restored file (bench/syscalls.sh)
#   make bench-s3 BENCH_SIZE=small   netvol vs restic/rclone/tar.gz+aws on radosgw
#
# BENCH_SIZE: small (~200 MB, a smoke run, ~10 min), medium (~2 GB),
# large (~8 GB, by hand). BENCH_RUNS: repetitions (default 3).
BENCH_MB ?= 1000
BENCH_FILES ?= 30000
BENCH_SIZE ?= medium
BENCH_RUNS ?= 3

.PHONY: bench-engine bench-s3 bench-syscalls
bench: bench-engine bench-syscalls bench-s3

# System calls and page faults per restored file of a real tree (the Python
# installation), counted with strace and GNU time; BENCH_BEFORE=path/to/an/older/netvol
# adds a before column.
BENCH_BEFORE ?=
bench-syscalls: build-all
	@command -v strace >/dev/null || apt-get install -y -qq strace >/dev/null
	@mkdir -p $(BUILD) && bench/syscalls.sh $(abspath $(BUILD))/bench-syscalls.md $(abspath $(BIN))/netvol $(BENCH_BEFORE)
	@scripts/bench-merge.sh docs/BENCHMARKS.md syscalls $(abspath $(BUILD))/bench-syscalls.md

bench-engine: build-all
	@command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
	@mkdir -p $(BUILD) && bench/engine.sh $(abspath $(BIN)) $(abspath $(BUILD))/bench-engine.md $(BENCH_MB) $(BENCH_FILES)
	@scripts/bench-merge.sh docs/BENCHMARKS.md engine $(abspath $(BUILD))/bench-engine.md

bench-s3: build-all static
	@scripts/deps.sh
	@rm -rf $(BUILD)/bench-s3-$(BENCH_SIZE) && mkdir -p $(BUILD)/bench-s3-$(BENCH_SIZE)
	RUNS=$(BENCH_RUNS) BENCH_STATIC=$(abspath $(BUILD))/static/bin/netvol bench/s3.sh $(abspath $(BIN)) $(abspath $(BUILD))/bench-s3-$(BENCH_SIZE) $(BENCH_SIZE)
	@python3 bench/report.py $(BUILD)/bench-s3-$(BENCH_SIZE) \
	  "make bench-s3 BENCH_SIZE=$(BENCH_SIZE) BENCH_RUNS=$(BENCH_RUNS)" >$(BUILD)/bench-s3-$(BENCH_SIZE).md
	@scripts/bench-merge.sh docs/BENCHMARKS.md s3-$(BENCH_SIZE) $(abspath $(BUILD))/bench-s3-$(BENCH_SIZE).md
