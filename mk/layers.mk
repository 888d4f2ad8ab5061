# make check-layers: the layering of ARCHITECTURE.md, checked on the built
# module's object files by tools/check-layers (a call to a higher layer, a
# call circle between files, or an nginx header in pure code fails it).
# t/002-layers.t runs it in `make test`.

.PHONY: check-layers

check-layers: $(MODULE)
	@perl $(ROOT)/tools/check-layers $(BUILD) $(ROOT)
