# moa-relabel, the relabeling client (libcurl multi + cJSON), built with
# the module's pure library (lib/: buffer, JSON, UTF-8).
#
# Included from the top Makefile, which defines ROOT (the repository) and
# BUILD (the build directory) and has included mk/sources.mk.  Standalone:
#   make -f mk/relabel.mk ROOT=$PWD BUILD=$PWD/build relabel
#
#   relabel             $(BUILD)/moa-relabel
#   relabel-unit        $(BUILD)/test-relabel and $(BUILD)/test-relabel-batch,
#                       the unit tests (TAP)
#
# --batch builds the stage bodies with the module's own protocol code
# (ngx_http_moa_module/openai/, libc + cJSON): moa-relabel links MOA_PROTO.

ifndef MOA_LIB
include $(ROOT)/mk/sources.mk
endif

# the pure parts (unit tested) and the command line tool's own files
RELABEL_DIR     := $(ROOT)/tools/relabel
RELABEL_HDRS    := $(wildcard $(RELABEL_DIR)/*.h) $(MOA_PURE_H)
RELABEL_CORE    := $(RELABEL_DIR)/relabel_record.c \
                   $(RELABEL_DIR)/relabel_http.c \
                   $(RELABEL_DIR)/relabel_io.c $(MOA_LIB)
RELABEL_BATCH   := $(RELABEL_DIR)/relabel_price.c \
                   $(RELABEL_DIR)/relabel_batch_state.c \
                   $(RELABEL_DIR)/relabel_batch_files.c \
                   $(RELABEL_DIR)/relabel_batch_recipe.c \
                   $(RELABEL_DIR)/relabel_batch_cands.c
RELABEL_CLI     := $(filter-out $(RELABEL_DIR)/test_%.c \
                                $(RELABEL_CORE), \
                     $(sort $(wildcard $(RELABEL_DIR)/*.c)))
RELABEL_CC      ?= $(CC)
RELABEL_CFLAGS  ?= -std=gnu99 -g -O2 -Wall -Wextra -Werror \
                   -D_FILE_OFFSET_BITS=64
RELABEL_INCS    := $(MOA_INCS) -I$(RELABEL_DIR)
RELABEL_LIBS    := -lcurl -lcjson -lm

# from the top Makefile: install the build packages first (its deps-build
# covers libcurl4-openssl-dev and libcjson-dev)
ifdef PKGS_BUILD
RELABEL_DEPS    := deps-build
endif

.PHONY: relabel relabel-unit

relabel: $(BUILD)/moa-relabel

relabel-unit: $(BUILD)/test-relabel $(BUILD)/test-relabel-batch

# build to a temporary name and rename, so that parallel test runs never
# execute a half-written binary
$(BUILD)/moa-relabel: $(RELABEL_CLI) $(RELABEL_CORE) $(MOA_PROTO) \
                      $(RELABEL_HDRS) \
                      | $(RELABEL_DEPS)
	@mkdir -p $(BUILD)
	$(RELABEL_CC) $(RELABEL_CFLAGS) $(RELABEL_INCS) -o $@.tmp.$$$$ \
	    $(RELABEL_CLI) $(RELABEL_CORE) $(MOA_PROTO) $(RELABEL_LIBS) \
	    && mv -f $@.tmp.$$$$ $@

RELABEL_TESTS   := $(RELABEL_DIR)/test_relabel.c $(RELABEL_DIR)/test_relabel_io.c

$(BUILD)/test-relabel: $(RELABEL_TESTS) $(RELABEL_CORE) \
                       $(RELABEL_HDRS) | $(RELABEL_DEPS)
	@mkdir -p $(BUILD)
	$(RELABEL_CC) $(RELABEL_CFLAGS) $(RELABEL_INCS) -o $@.tmp.$$$$ \
	    $(RELABEL_TESTS) $(RELABEL_CORE) $(RELABEL_LIBS) \
	    && mv -f $@.tmp.$$$$ $@

$(BUILD)/test-relabel-batch: $(RELABEL_DIR)/test_relabel_batch.c \
                             $(RELABEL_BATCH) $(RELABEL_CORE) \
                             $(MOA_PROTO) $(RELABEL_HDRS) | $(RELABEL_DEPS)
	@mkdir -p $(BUILD)
	$(RELABEL_CC) $(RELABEL_CFLAGS) $(RELABEL_INCS) -o $@.tmp.$$$$ \
	    $(RELABEL_DIR)/test_relabel_batch.c $(RELABEL_BATCH) \
	    $(RELABEL_CORE) $(MOA_PROTO) $(RELABEL_LIBS) && mv -f $@.tmp.$$$$ $@
