# The Debian packages (debian/): the module, libnginx-mod-http-moa, and
# the command line tools, moa-tools.
#
# Included from the top Makefile (ROOT, BUILD, SUDO, PKGS_BUILD and
# ensure_packages come from there).
#
#   deb         build/deb/*.deb, built the Debian way (dpkg-buildpackage,
#               debhelper's nginx_mod build system, dh_nginx) from a copy
#               of the tracked files; the source package, the .changes and
#               the build log in build/deb/src, debug symbols in
#               build/deb/debug
#   test-deb    lintian, then install the packages on this machine's nginx,
#               run debian/tests/installed against them, purge them, and
#               check that the machine is as it was (mk/test-deb.sh)

DEB_DIR         := $(BUILD)/deb
DEB_VERSION     := $(shell sed -n \
                     's/^\#define NGX_HTTP_MOA_VERSION *"\(.*\)"$$/\1/p' \
                     $(ROOT)/lib/ngx_http_moa_version.h)
DEB_SRC         := $(DEB_DIR)/src/libnginx-mod-http-moa-$(DEB_VERSION)
# nginx-dev brings the nginx_mod build system and dh_nginx
PKGS_DEB        := $(PKGS_BUILD) build-essential debhelper dpkg-dev git
PKGS_TEST_DEB   := $(PKGS_DEB) lintian libnginx-mod-http-js curl man-db perl

.PHONY: deb deps-deb deps-test-deb test-deb

deps-deb:
	$(call ensure_packages,$(PKGS_DEB))

deps-test-deb:
	$(call ensure_packages,$(PKGS_TEST_DEB))

# the checks of debian/rules first, so that a wrong nginx-dev is said
# before anything is built; the work tree's build/ never gets in the copy
deb: deps-deb
	@cd $(ROOT) && $(MAKE) -s -f debian/rules check-version check-nginx
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC) $(DEB_DIR)/debug
	@cd $(ROOT) && if git rev-parse --is-inside-work-tree >/dev/null 2>&1; \
	then \
	    git ls-files -z | tar --null -T - --ignore-failed-read -cf -; \
	else \
	    tar --exclude=./build --exclude='./t/servroot*' -cf - .; \
	fi | tar -xf - -C $(DEB_SRC)
	@echo "moa: dpkg-buildpackage in $(DEB_SRC) (log: $(DEB_DIR)/src/build.log)"
	@cd $(DEB_SRC) && dpkg-buildpackage --no-sign -jauto \
	    > $(DEB_DIR)/src/build.log 2>&1 || \
	{ tail -n 40 $(DEB_DIR)/src/build.log; \
	  echo "moa: dpkg-buildpackage failed: $(DEB_DIR)/src/build.log"; \
	  exit 1; }
	@cp $(DEB_DIR)/src/*-dbgsym_*.deb $(DEB_DIR)/debug/
	@cd $(DEB_DIR)/src && cp $$(ls *.deb | grep -v -- -dbgsym_) $(DEB_DIR)/
	@cd $(DEB_DIR) && for d in *.deb; do \
	    echo "moa: built build/deb/$$d ($$(stat -c %s $$d) bytes)"; \
	done

test-deb: deb | deps-test-deb
	@$(SUDO) bash $(ROOT)/mk/test-deb.sh $(ROOT) $(DEB_DIR)
