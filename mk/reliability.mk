# Reliability checks (issue #4), included by the Makefile; see RELIABILITY.md.
#
#   make test-asan      the whole suite against the module built with
#                       AddressSanitizer (build/asan/), loaded into the
#                       packaged nginx; fails on any memory error or any
#                       definite leak through the module
#   make test-valgrind  the whole suite with nginx under valgrind's memcheck
#                       (slow: about 10 minutes); fails on any memcheck
#                       error or definite leak through the module
#   make soak           200 clients for 60 s against 2 workers and a mock
#                       provider that fails 20% of calls, random client
#                       aborts, a reload half-way (SOAK_SECONDS=,
#                       SOAK_CLIENTS=, SOAK_PORT=; bench/soak/soak)
#   make soak-asan      the same with the AddressSanitizer build
#
# TESTS= and PROVE_FLAGS= work as for `make test`.  None of these is part
# of `make test`.

ASAN_BUILD  := $(BUILD)/asan
ASAN_MODULE := $(ASAN_BUILD)/ngx_http_moa_module.so
ASAN_REPORTS := $(ASAN_BUILD)/reports
ASAN_CC_OPT := -fsanitize=address -fno-omit-frame-pointer -g -O1
ASAN_LD_OPT := -fsanitize=address

# gcc's runtime, the one the module is built with (gcc-12 depends on it)
PKGS_ASAN   := $(PKGS_TEST) libasan8 binutils

.PHONY: deps-asan deps-valgrind deps-soak asan test-asan test-valgrind \
        soak soak-asan

deps-asan:
	$(call ensure_packages,$(PKGS_ASAN))

deps-valgrind:
	$(call ensure_packages,$(PKGS_TEST) valgrind)

deps-soak:
	$(call ensure_packages,$(PKGS_RUN) procps)
	@command -v node >/dev/null 2>&1 || { \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends nodejs >/dev/null; }

# the same configure as $(BUILD)/Makefile, with the sanitizer flags
$(ASAN_BUILD)/Makefile: config $(MOA_SRC_LIST) | deps-asan
	@rm -rf $(ASAN_BUILD)/nginx-src && mkdir -p $(ASAN_BUILD) && \
	cp -r $(NGX_SRC) $(ASAN_BUILD)/nginx-src && \
	cd $(ASAN_BUILD)/nginx-src && \
	. ./conf_flags && \
	./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(ROOT) \
	    --with-cc-opt="$(ASAN_CC_OPT)" --with-ld-opt="$(ASAN_LD_OPT)" \
	    --builddir=$(ASAN_BUILD) > $(ASAN_BUILD)/configure.log 2>&1 \
	|| { cat $(ASAN_BUILD)/configure.log; exit 1; }

$(ASAN_MODULE): $(ASAN_BUILD)/Makefile $(SRCS)
	@$(MAKE) -s -f $(ASAN_BUILD)/Makefile -C $(ASAN_BUILD)/nginx-src modules
	@echo "moa: built $(ASAN_MODULE)"

asan: $(ASAN_MODULE)

# t/asan/nginx starts the packaged nginx with libasan and the module
# preloaded; each nginx process reports to $(ASAN_REPORTS)/asan.<pid>
test-asan: $(ASAN_MODULE) | deps-test deps-asan
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	@inc=; perl -MTest::Nginx::Socket -e1 2>/dev/null || inc="-I t/compat"; \
	MOA_ASAN_LOG_DIR=$(ASAN_REPORTS) MOA_ASAN_MODULE=$(ASAN_MODULE) \
	MOA_ASAN_NGINX=$(NGINX) \
	TEST_NGINX_BINARY=$(ROOT)/t/asan/nginx \
	TEST_NGINX_LOAD_MODULES="$(JS_MODULE) $(ASAN_MODULE)" \
	TEST_NGINX_MOCK_JS=$(ROOT)/conf/mock-provider.js \
	TEST_NGINX_RANDOMIZE=1 \
	prove $$inc $(PROVE_FLAGS) $(or $(TESTS),t/*.t); \
	rc=$$?; \
	echo; \
	perl t/asan/report $(ASAN_REPORTS) || rc=1; \
	exit $$rc

# t/valgrind/nginx runs the packaged nginx under memcheck; each process
# logs to $(VALGRIND_LOGS)/vg.<pid>.  Timing assertions of some tests fail
# at valgrind's speed: the verdict is memcheck's (RELIABILITY.md).
VALGRIND_LOGS := $(BUILD)/valgrind

test-valgrind: $(MODULE) | deps-test deps-valgrind
	@rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)
	@inc=; perl -MTest::Nginx::Socket -e1 2>/dev/null || inc="-I t/compat"; \
	MOA_VALGRIND_LOG_DIR=$(VALGRIND_LOGS) MOA_VALGRIND_NGINX=$(NGINX) \
	TEST_NGINX_BINARY=$(ROOT)/t/valgrind/nginx \
	TEST_NGINX_LOAD_MODULES="$(JS_MODULE) $(MODULE)" \
	TEST_NGINX_MOCK_JS=$(ROOT)/conf/mock-provider.js \
	TEST_NGINX_RANDOMIZE=1 TEST_NGINX_TIMEOUT=10 \
	prove $$inc $(PROVE_FLAGS) $(or $(TESTS),t/*.t) \
	    2>&1 | tee $(VALGRIND_LOGS)/prove.out; \
	rc=0; \
	if grep -q '^Bailout called' $(VALGRIND_LOGS)/prove.out; then \
	    echo "moa: the suite stopped early under valgrind"; rc=1; \
	elif ! grep -q '^Result: PASS' $(VALGRIND_LOGS)/prove.out; then \
	    echo "moa: some tests failed under valgrind (timing, see" \
	         "RELIABILITY.md); the verdict is memcheck's"; \
	fi; \
	echo; \
	perl t/valgrind/report $(VALGRIND_LOGS) || rc=1; \
	exit $$rc

soak: $(MODULE) | deps-soak
	@bench/soak/soak

soak-asan: $(ASAN_MODULE) | deps-soak deps-asan
	@SOAK_ASAN=1 SOAK_DIR=$(BUILD)/soak-asan bench/soak/soak
