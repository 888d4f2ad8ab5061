# moa-eval, the pairwise judge of a model against a baseline (libcurl
# multi + cJSON).  It shares moa-relabel's engine pieces (replies, errors,
# Retry-After, input lines, torn-line cutting: RELABEL_CORE) and with them
# the module's pure library (lib/).
#
# Included from the top Makefile after mk/relabel.mk.  Standalone:
#   make -f mk/eval.mk ROOT=$PWD BUILD=$PWD/build eval
#
#   eval                $(BUILD)/moa-eval
#   eval-unit           $(BUILD)/test-eval, the unit tests (TAP)

ifndef RELABEL_CORE
include $(ROOT)/mk/relabel.mk
endif

EVAL_DIR        := $(ROOT)/tools/eval
EVAL_HDRS       := $(wildcard $(EVAL_DIR)/*.h) $(RELABEL_HDRS)
# the pure parts, unit tested
EVAL_CORE       := $(EVAL_DIR)/eval_stats.c $(EVAL_DIR)/eval_judge.c \
                   $(EVAL_DIR)/eval_input.c $(EVAL_DIR)/eval_svg.c
EVAL_CLI        := $(filter-out $(EVAL_DIR)/test_eval.c $(EVAL_CORE), \
                     $(sort $(wildcard $(EVAL_DIR)/*.c)))
EVAL_INCS       := $(RELABEL_INCS) -I$(EVAL_DIR)

.PHONY: eval eval-unit

eval: $(BUILD)/moa-eval

eval-unit: $(BUILD)/test-eval

# to a temporary name and renamed, as moa-relabel
$(BUILD)/moa-eval: $(EVAL_CLI) $(EVAL_CORE) $(RELABEL_CORE) $(EVAL_HDRS) \
                   | $(RELABEL_DEPS)
	@mkdir -p $(BUILD)
	$(RELABEL_CC) $(RELABEL_CFLAGS) $(EVAL_INCS) -o $@.tmp.$$$$ \
	    $(EVAL_CLI) $(EVAL_CORE) $(RELABEL_CORE) $(RELABEL_LIBS) \
	    && mv -f $@.tmp.$$$$ $@

$(BUILD)/test-eval: $(EVAL_DIR)/test_eval.c $(EVAL_CORE) $(RELABEL_CORE) \
                    $(EVAL_HDRS) | $(RELABEL_DEPS)
	@mkdir -p $(BUILD)
	$(RELABEL_CC) $(RELABEL_CFLAGS) $(EVAL_INCS) -I$(ROOT)/t/unit \
	    -o $@.tmp.$$$$ $(EVAL_DIR)/test_eval.c $(EVAL_CORE) \
	    $(RELABEL_CORE) $(RELABEL_LIBS) && mv -f $@.tmp.$$$$ $@
