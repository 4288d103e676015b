# Convenience targets; the build itself is meson + ninja.
.PHONY: all deps build run test test-quick clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	@[ -f build/build.ninja ] || meson setup build
	ninja -C build

# Until the daemon lands (`airlock serve`), "running Airlock" is the one-shot sandbox:
# report what this host supports, then run a program in a fresh sandbox.
run: build
	build/airlock doctor
	build/airlock run -c 'import sys; print("hello from a sandbox, python", sys.version.split()[0])'

test: deps
	scripts/test.sh

test-quick: deps
	scripts/test.sh --quick

clean:
	rm -rf build build-asan build-fuzz
