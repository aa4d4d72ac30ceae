# Convenience wrapper: `make` builds everything into build/ (the executable is build/ferry).
BUILD ?= build
MESON_OPTS ?=

.PHONY: all test asan clean format
all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

test: all
	tests/run.sh

asan:
	$(MAKE) BUILD=build-asan MESON_OPTS="-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
