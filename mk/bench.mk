# make bench: the benchmark of issue #7 (BENCHMARKS.md). It never runs
# in CI and no test asserts a time. Included by the top Makefile, which
# defines ROOT, BUILD, NGINX, MODULE, JS_MODULE and ensure_packages.
#
#   make bench                              everything, 3 repetitions
#   BENCH_REPEAT=1 BENCH_DURATION=5 BENCH_SCENARIOS="cpu latency" make bench
#
# The module is built when it can be; if it is missing, or its directives
# are not there yet, its scenarios are skipped with a message.

BENCH_DIR  := $(ROOT)/bench
PKGS_BENCH := nginx libnginx-mod-http-js wrk gnuplot-nox jq curl perl util-linux
# Node and npm from Debian only where none is there: a Node from elsewhere
# (e.g. with its own npm) conflicts with Debian's npm package
PKGS_BENCH += $(if $(shell command -v node),,nodejs) \
              $(if $(shell command -v npm),,npm)
BENCH_NODE := $(BENCH_DIR)/peers/node/node_modules/.package-lock.json

.PHONY: bench deps-bench bench-report bench-publish bench-profile bench-heap

deps-bench:
	$(call ensure_packages,$(PKGS_BENCH))

$(BENCH_NODE): $(BENCH_DIR)/peers/node/package-lock.json | deps-bench
	cd $(BENCH_DIR)/peers/node && npm ci --no-audit --no-fund --loglevel=error

bench: deps-bench $(BENCH_NODE)
	@$(MAKE) -s $(MODULE) || \
	    echo "bench: the module does not build: its scenarios are skipped"
	ROOT=$(ROOT) BENCH_NGINX=$(NGINX) MODULE=$(MODULE) JS_MODULE=$(JS_MODULE) \
	    $(BENCH_DIR)/run

# re-render the tables and the plot of a results directory:
#   make bench-report BENCH_RESULTS=bench/results/<timestamp>
bench-report:
	node $(BENCH_DIR)/tools/report.js $(BENCH_RESULTS)
	gnuplot -e "dat='$(BENCH_RESULTS)/latency.dat'; \
	    out='$(BENCH_RESULTS)/latency.png'; D=$${BENCH_DELAY:-200}" \
	    $(BENCH_DIR)/plot.gp

# keep a run as the reference: copy its summary to bench/results/final/ and
# its tables into BENCHMARKS.md
bench-publish: bench-report
	$(BENCH_DIR)/tools/publish.sh $(BENCH_RESULTS)

# instructions per request under callgrind (proxy, moa, pass at D=0): the
# before/after figure of a change, steady on a busy machine
bench-profile: deps-bench
	$(call ensure_packages,valgrind)
	@$(MAKE) -s $(MODULE)
	ROOT=$(ROOT) BENCH_NGINX=$(NGINX) MODULE=$(MODULE) JS_MODULE=$(JS_MODULE) \
	    $(BENCH_DIR)/profile

# heap per in-flight MoA request under massif (500 requests at D=10 s): the
# before/after figure of a change of the module's memory use
bench-heap: deps-bench
	$(call ensure_packages,valgrind)
	@$(MAKE) -s $(MODULE)
	ROOT=$(ROOT) BENCH_NGINX=$(NGINX) MODULE=$(MODULE) JS_MODULE=$(JS_MODULE) \
	    $(BENCH_DIR)/heap
