# make bench: benchmarks, never part of `make test`. Results go to
# docs/BENCHMARKS.md (the engine section is rewritten on each run).
BENCH_MB ?= 1000
BENCH_FILES ?= 30000

bench: build-all
	@command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
	@bench/engine.sh $(abspath $(BIN)) $(BUILD)/bench-engine.md $(BENCH_MB) $(BENCH_FILES)
	@scripts/bench-merge.sh docs/BENCHMARKS.md engine $(BUILD)/bench-engine.md
