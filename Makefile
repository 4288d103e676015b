# Convenience targets; the build itself is meson + ninja.
.PHONY: all deps build run test test-quick clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	@[ -f build/build.ninja ] || meson setup build
	ninja -C build

# The service on its embedded defaults: REST API on 127.0.0.1:8470, SQLite and the admin
# API key under /var/lib/airlock (override: make run LISTEN=... DATA_DIR=...).
LISTEN ?= 127.0.0.1:8470
DATA_DIR ?= /var/lib/airlock
run: build
	build/airlock doctor
	exec build/airlock serve --listen $(LISTEN) --data-dir $(DATA_DIR)

test:
	scripts/install-deps.sh --test
	scripts/test.sh

test-quick:
	scripts/install-deps.sh --test
	scripts/test.sh --quick

clean:
	rm -rf build build-asan build-fuzz
