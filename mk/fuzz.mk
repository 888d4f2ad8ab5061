# libFuzzer targets of the pure code (included by the top Makefile, which
# defines ROOT and BUILD).
#
#   make fuzz                      every target for FUZZ_SECONDS (60) each
#   make fuzz FUZZ_TARGETS=json    some of them
#   make fuzz-build                only build them
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/) and
# the inputs that once crashed it (fuzz/regressions/<target>/); what it
# learns goes to build/fuzz/corpus/<target>/, crashes to
# build/fuzz/artifacts/<target>/.  The first crash, leak or sanitizer report
# stops the run with a non-zero status.  Copy a crash into
# fuzz/regressions/<target>/ once it is fixed: "make test" replays it.

FUZZ_CC       ?= clang-14
FUZZ_SECONDS  ?= 60
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_ALL      := $(patsubst fuzz_%.c,%,$(notdir $(wildcard $(ROOT)/fuzz/fuzz_*.c)))
FUZZ_TARGETS  ?= $(FUZZ_ALL)
FUZZ_PURE     := $(MOA_PURE)
FUZZ_CFLAGS   ?= -g -O1 -Wall -Wextra -Werror \
                 -fsanitize=fuzzer,address,undefined,float-cast-overflow \
                 -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CPPFLAGS := $(MOA_INCS) -I$(ROOT)/fuzz

# the largest input tried, per target (requests and streams are bigger)
FUZZ_MAX_LEN_request := 16384
FUZZ_MAX_LEN_reply   := 16384
FUZZ_MAX_LEN_provider := 16384
FUZZ_MAX_LEN_stream  := 16384
FUZZ_MAX_LEN_collect := 16384
FUZZ_MAX_LEN_prompt  := 8192
FUZZ_MAX_LEN_json    := 4096
FUZZ_MAX_LEN_responses := 16384
FUZZ_MAX_LEN_stored  := 8192

# the dictionary of each target
FUZZ_DICT_request    := openai
FUZZ_DICT_reply      := openai
FUZZ_DICT_provider   := openai
FUZZ_DICT_stream     := openai
FUZZ_DICT_collect    := openai
FUZZ_DICT_prompt     := prompt
FUZZ_DICT_json       := json
FUZZ_DICT_responses  := openai
FUZZ_DICT_stored     := openai

FUZZ_FLAGS    ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz fuzz-build deps-fuzz

deps-fuzz:
	$(call ensure_packages,make clang-14 libclang-rt-14-dev libcjson-dev)

fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz_, $(FUZZ_TARGETS))

$(FUZZ_DIR)/fuzz_%: $(ROOT)/fuzz/fuzz_%.c $(ROOT)/fuzz/fuzz.h $(FUZZ_PURE) \
                    $(MOA_PURE_H) \
                    $(wildcard $(ROOT)/fuzz/check_*.h) | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) -o $@ $< $(FUZZ_PURE) -lcjson

fuzz: $(addprefix fuzz-run-,$(FUZZ_TARGETS))

# not .PHONY: phony targets never match a pattern rule
fuzz-run-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts/$*
	@echo "moa: fuzzing $* for $(FUZZ_SECONDS)s (log: $(FUZZ_DIR)/$*.log)"
	@$< -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=$(or $(FUZZ_MAX_LEN_$*),4096) $(FUZZ_FLAGS) \
	    $(if $(FUZZ_DICT_$*),-dict=$(ROOT)/fuzz/$(FUZZ_DICT_$*).dict) \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$*/ \
	    $(FUZZ_DIR)/corpus/$* \
	    $(wildcard $(ROOT)/fuzz/corpus/$* $(ROOT)/fuzz/regressions/$*) \
	    > $(FUZZ_DIR)/$*.log 2>&1; \
	rc=$$?; \
	grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units)' \
	    $(FUZZ_DIR)/$*.log || true; \
	if [ $$rc -ne 0 ]; then \
	    grep -E -A40 '^(==[0-9]+==|fuzz check failed|.*runtime error)' \
	        $(FUZZ_DIR)/$*.log | head -n 60; \
	    echo "moa: fuzz_$* failed (status $$rc): see $(FUZZ_DIR)/$*.log" \
	         "and $(FUZZ_DIR)/artifacts/$*/"; \
	    exit 1; \
	fi
