# The module's sources, from its folders (included first by the top
# Makefile, which defines ROOT).  One list for everything that builds them:
# config globs the same folders for nginx's build.
#
#   MOA_LIB     lib/: pure, libc only (buffer, JSON, SSE)
#   MOA_PROTO   ngx_http_moa_module/openai/: pure OpenAI protocol (+ cJSON)
#   MOA_PURE    both: what the unit tests, fuzz targets and CLIs link
#   MOA_GLUE    ngx_http_moa_module/: the nginx glue
#   MOA_INCS    -I flags for the pure headers

MOA_LIB      := $(sort $(wildcard $(ROOT)/lib/*.c))
MOA_PROTO    := $(sort $(wildcard $(ROOT)/ngx_http_moa_module/openai/*.c))
MOA_PURE     := $(MOA_LIB) $(MOA_PROTO)
MOA_PURE_H   := $(wildcard $(ROOT)/lib/*.h \
                           $(ROOT)/ngx_http_moa_module/openai/*.h)
MOA_GLUE     := $(sort $(wildcard $(ROOT)/ngx_http_moa_module/*.c))
MOA_GLUE_H   := $(wildcard $(ROOT)/ngx_http_moa_module/*.h)
MOA_INCS     := -I$(ROOT)/lib -I$(ROOT)/ngx_http_moa_module/openai

# the list of source files as of the last make: nginx's configure wrote the
# list into its Makefile, so a file added or removed must reconfigure
MOA_SRC_LIST := $(BUILD)/sources.list
MOA_SRC_NOW  := $(sort $(notdir $(MOA_PURE) $(MOA_PURE_H) $(MOA_GLUE) \
                                $(MOA_GLUE_H)))
ifneq ($(MOA_SRC_NOW),$(shell cat $(MOA_SRC_LIST) 2>/dev/null))
$(shell mkdir -p $(BUILD) && echo '$(MOA_SRC_NOW)' > $(MOA_SRC_LIST))
endif
