# Unit tests of the pure code (included by the top Makefile, which defines
# ROOT and BUILD).
#
#   make unit            build the test binaries into build/unit/
#   make unit-valgrind   build them without ASan and run them under valgrind
#
# t/001-unit.t runs "make -s unit", then every build/unit/test_* binary and
# every build/unit/replay_* binary (the fuzz targets replaying their seed
# corpus and the inputs that once crashed them) and passes their TAP on.

# clang when it is there: its UBSan also reports NULL + 0 (gcc's does not)
ifeq ($(origin UNIT_CC),undefined)
UNIT_CC       := $(if $(shell command -v clang-14),clang-14,gcc)
endif
UNIT_DIR      := $(BUILD)/unit
UNIT_PURE     := $(MOA_PURE)
UNIT_HDRS     := $(MOA_PURE_H) \
                 $(ROOT)/t/unit/tap.h $(ROOT)/t/unit/util.h \
                 $(wildcard $(ROOT)/fuzz/check_*.h)
UNIT_TESTS    := $(basename $(notdir $(wildcard $(ROOT)/t/unit/test_*.c)))
UNIT_FUZZ     := $(basename $(notdir $(wildcard $(ROOT)/fuzz/fuzz_*.c)))
UNIT_BINS     := $(addprefix $(UNIT_DIR)/, $(UNIT_TESTS)) \
                 $(patsubst fuzz_%, $(UNIT_DIR)/replay_%, $(UNIT_FUZZ))

# the JSON scans' portable code (other platforms than SSE2's), tested here
# too: the tests and replays of the files that use it, built with it
UNIT_PORTABLE := test_json test_json_scan test_json_find test_buf_json \
                 test_json_text \
                 replay_json
UNIT_BINS     += $(patsubst %, $(UNIT_DIR)/%_portable, $(UNIT_PORTABLE))

# float-cast-overflow is part of clang's "undefined" but not of gcc's
UNIT_SAN      := -fsanitize=address,undefined,float-cast-overflow \
                 -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_CFLAGS   ?= -Wall -Wextra -Werror -g -O1 $(UNIT_SAN)
UNIT_CPPFLAGS := $(MOA_INCS) -I$(ROOT)/t/unit -I$(ROOT)/fuzz
UNIT_LIBS     := -lcjson -lm

.PHONY: unit unit-valgrind

unit: $(UNIT_BINS)

$(UNIT_DIR)/test_%: $(ROOT)/t/unit/test_%.c $(UNIT_PURE) $(UNIT_HDRS) \
                    | deps-build
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_CPPFLAGS) -o $@ $< $(UNIT_PURE) \
	    $(UNIT_LIBS)

# a fuzz target linked with a main() that replays files instead of libFuzzer
$(UNIT_DIR)/replay_%: $(ROOT)/fuzz/fuzz_%.c $(ROOT)/fuzz/replay.c \
                      $(ROOT)/fuzz/fuzz.h $(UNIT_PURE) $(UNIT_HDRS) \
                      | deps-build
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_CPPFLAGS) -o $@ $< \
	    $(ROOT)/fuzz/replay.c $(UNIT_PURE) $(UNIT_LIBS)

$(UNIT_DIR)/test_%_portable: $(ROOT)/t/unit/test_%.c $(UNIT_PURE) \
                             $(UNIT_HDRS) | deps-build
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -DNGX_HTTP_MOA_JSON_PORTABLE $(UNIT_CPPFLAGS) \
	    -o $@ $< $(UNIT_PURE) $(UNIT_LIBS)

$(UNIT_DIR)/replay_%_portable: $(ROOT)/fuzz/fuzz_%.c $(ROOT)/fuzz/replay.c \
                               $(ROOT)/fuzz/fuzz.h $(UNIT_PURE) $(UNIT_HDRS) \
                               | deps-build
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -DNGX_HTTP_MOA_JSON_PORTABLE $(UNIT_CPPFLAGS) \
	    -o $@ $< $(ROOT)/fuzz/replay.c $(UNIT_PURE) $(UNIT_LIBS)

# the same tests without sanitizers, under valgrind (memcheck, leaks);
# DWARF 4: Debian 12's valgrind cannot read clang-14's DWARF 5
UNIT_VG_DIR   := $(BUILD)/unit-valgrind
UNIT_VG_BINS  := $(addprefix $(UNIT_VG_DIR)/, $(UNIT_TESTS))
UNIT_VALGRIND ?= valgrind -q --leak-check=full --show-leak-kinds=definite \
                 --errors-for-leak-kinds=definite --error-exitcode=1

$(UNIT_VG_DIR)/test_%: $(ROOT)/t/unit/test_%.c $(UNIT_PURE) $(UNIT_HDRS) \
                       | deps-build
	@mkdir -p $(@D)
	$(UNIT_CC) -Wall -Wextra -Werror -gdwarf-4 -O0 $(UNIT_CPPFLAGS) -o $@ $< \
	    $(UNIT_PURE) $(UNIT_LIBS)

unit-valgrind: $(UNIT_VG_BINS)
	@for t in $(UNIT_VG_BINS); do \
	    echo "moa: valgrind $$t"; \
	    $(UNIT_VALGRIND) $$t > $$t.tap || { cat $$t.tap; exit 1; }; \
	    tail -n 1 $$t.tap; \
	done
