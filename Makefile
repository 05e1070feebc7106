# Fresnel: every target does its own set-up on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
DEMO_SCALE ?= default
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build test demo bench fuzz cuda-check format clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest -j $(JOBS) --output-on-failure --timeout 600

demo: build
	bash scripts/demo.sh $(DEMO_SCALE)

bench: build
	bash scripts/bench.sh

fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

cuda-check: deps
	bash scripts/cuda-check.sh

# Applies .clang-format to every tracked C++ file (clang-format: `apt-get install clang-format`).
format:
	clang-format -i --style=file $$(git ls-files '*.cpp' '*.hpp' '*.cu')

clean:
	rm -rf $(BUILD_DIR)
