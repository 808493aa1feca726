# fastric's developer and CI entry points. `.ci/run` calls `make test`; README.md documents the rest.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_REF := .venv-ref
PY := $(VENV)/bin/python
STAMP_DEPS := $(VENV)/.deps-installed
STAMP_REF := $(VENV_REF)/.ref-installed
export CARGO_TERM_COLOR ?= never

.PHONY: install build-dev wheel install-wheel wheel-arm64 layer reference lint stubtest test test-rust test-asan fuzz test-python demo bench soak clean test-wheels test-image

$(STAMP_DEPS): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(STAMP_REF): constraints-ref.txt
	$(PYTHON) -m venv $(VENV_REF)
	$(VENV_REF)/bin/pip install -q -r constraints-ref.txt
	touch $@

## install: the venv with the build and test tools, and fastric's release manylinux wheel built once
## and installed into it (the same file that ships; every test uses it)
install: install-wheel

## build-dev: an editable debug build for quick edit-and-test cycles (`maturin develop`)
build-dev: $(STAMP_DEPS)
	source $(VENV)/bin/activate && maturin develop -q
	cargo build -q --locked -p fastric-rie && install -m 0755 target/debug/fastric-rie $(VENV)/bin/fastric-rie

## reference: the awslambdaric 4.2.2 venv the differential tests compare against
reference: $(STAMP_REF)

lint: $(STAMP_DEPS)
	cargo fmt --all -- --check
	$(VENV)/bin/ruff check python tests benches examples fuzz
	$(VENV)/bin/ruff format --check python tests benches examples fuzz

## stubtest: the hand-written _fastric.pyi matches the built module
stubtest: install
	source $(VENV)/bin/activate && python -m mypy.stubtest fastric._fastric

## test-rust: Rust unit tests (they link the venv's libpython)
test-rust: $(STAMP_DEPS)
	source $(VENV)/bin/activate && PYO3_PYTHON=$$(pwd)/$(PY) cargo test --locked

## test-asan: the Rust unit tests under AddressSanitizer + LeakSanitizer (stable toolchain; RUSTC_BOOTSTRAP
## unlocks -Zsanitizer, its rustlib ships the ASan runtime). Own target dir; libpython's by-design
## leaks suppressed (scripts/lsan-suppressions.txt)
test-asan: $(STAMP_DEPS)
	source $(VENV)/bin/activate && RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" PYO3_PYTHON=$$(pwd)/$(PY) \
		ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$$(pwd)/scripts/lsan-suppressions.txt \
		cargo test --locked --lib --target $$(rustc -vV | sed -n 's/^host: //p') --target-dir target/asan

## fuzz: every fuzz target for a bounded time (scripts/fuzz.sh; FUZZ_SECONDS per libFuzzer target,
## FUZZ_JSON_SECONDS for the JSON decoder against simplejson); fails on a crash or a disagreement.
## Needs fastric installed in the venv (`make install`); the last step of `make test`
FUZZ_SECONDS ?= 10
FUZZ_JSON_SECONDS ?= 15
fuzz: $(STAMP_DEPS) $(STAMP_REF)
	FASTRIC_REF_PYTHON=$$(pwd)/$(VENV_REF)/bin/python PYTHON=$$(pwd)/$(PY) scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_JSON_SECONDS)

# the per-version wheel and image modules run in their own targets (test-wheels, test-image)
test-python: install reference
	source $(VENV)/bin/activate && FASTRIC_REF_PYTHON=$$(pwd)/$(VENV_REF)/bin/python python -m pytest -q tests \
		$(foreach m,$(OWN_TARGET_TESTS),--ignore=$(m))

## test: everything CI runs
test: lint test-rust test-asan stubtest test-python test-wheels test-image fuzz

## demo: the sample handler served by the built-in emulator, invoked once per sample event
demo: install
	$(PY) examples/demo.py

bench: install reference
	source $(VENV)/bin/activate && FASTRIC_REF_PYTHON=$$(pwd)/$(VENV_REF)/bin/python python benches/run.py

## soak: 10^6 invocations with unique trace ids + 10^4 of a payload mix, fastric and awslambdaric side by
## side; writes the Soak section of docs/BENCHMARKS.md (benches/soak.py; not part of `make bench`)
soak: install reference
	$(PY) benches/soak.py --fastric-python $$(pwd)/$(PY) --ref-python $$(pwd)/$(VENV_REF)/bin/python

clean:
	rm -rf $(VENV) $(VENV_REF) target

# Packaging (docs/DEPLOY.md). `install-wheel` is the one-build alternative to `install` for CI: the
# release wheel is built once and installed into the venv, so the packaging tests reuse it.
.PHONY: wheel wheel-arm64 layer install-wheel

## wheel: the manylinux2014 release wheel for the venv's Python in dist/ (zig-linked; auditwheel show)
wheel: $(STAMP_DEPS)
	source $(VENV)/bin/activate && scripts/build-wheels.sh --out dist $(abspath $(PY))

## install-wheel: build the wheel and install it into the venv (instead of maturin develop)
install-wheel: wheel
	$(PY) -m pip install -q --force-reinstall --no-deps \
		dist/fastric-*-$$($(PY) -c 'import sys; print("cp%d%d" % sys.version_info[:2])')-*manylinux*_$$(uname -m).whl

## wheel-arm64: the aarch64 wheel (cross-built with Debian's Rust) + smoke tests on emulated arm64 Python
wheel-arm64: $(STAMP_DEPS)
	source $(VENV)/bin/activate && scripts/arm64-smoke.sh

## layer: the Lambda layer zip (bootstrap, exec wrapper, python/fastric) from the wheels in dist/
layer: wheel
	source $(VENV)/bin/activate && scripts/build-layer.sh

# Every wheel with its own Python, the sdist, and the container image (docs/DEPLOY.md, "What is
# verified where"). The cp311 wheel is the one `make install` built; podman comes from Debian's
# packages (scripts/install-podman.sh); debootstrap root filesystems are cached in ~/.cache/fastric.
OWN_TARGET_TESTS := tests/test_packaging_pythons.py tests/test_packaging_publish.py tests/test_image.py
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
VENV_PYTHON_VERSION = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PYENV_PYTHONS = $(foreach v,$(filter-out $(VENV_PYTHON_VERSION),3.10 3.11 3.12 3.13),\
	$(lastword $(wildcard $(HOME)/.pyenv/versions/$(v).*/bin/python$(v))))
PODMAN_ENV := CONTAINERS_CONF=$(CURDIR)/docker/containers.conf CONTAINERS_CONF_OVERRIDE=$(CURDIR)/docker/containers.conf

## test-wheels: wheels for CPython 3.10-3.13 (pyenv) and 3.14 (Debian testing's, in podman), each
## tested in a venv of its version; the sdist built by pip in a clean venv; twine check --strict
# Two at a time (2 cores; each release build is mostly one serial LTO job): the pyenv wheels next to
# the Debian one (own target dir, so neither waits for cargo's lock), then the per-version tests next
# to the sdist/publish tests (whose pip build of the sdist is the other long job).
test-wheels: install reference
	scripts/install-podman.sh
	source $(VENV)/bin/activate && rm -f dist/fastric-$(VERSION).tar.gz && maturin sdist --out dist
	source $(VENV)/bin/activate && export $(PODMAN_ENV) && \
		{ scripts/build-wheels.sh --out dist $(PYENV_PYTHONS) & a=$$!; \
		  CARGO_TARGET_DIR=target/debian-python scripts/build-wheel-debian.sh --out dist testing 3.14 & b=$$!; \
		  wait $$a; sa=$$?; wait $$b; sb=$$?; [ $$sa = 0 ] && [ $$sb = 0 ]; }
	source $(VENV)/bin/activate && export $(PODMAN_ENV) FASTRIC_REF_PYTHON=$$(pwd)/$(VENV_REF)/bin/python && \
		{ python -m pytest -q tests/test_packaging_publish.py & a=$$!; \
		  python -m pytest -q tests/test_packaging_pythons.py; sb=$$?; wait $$a; sa=$$?; [ $$sa = 0 ] && [ $$sb = 0 ]; }

## test-image: the Dockerfile built and run with podman on debootstrap stand-ins of AWS's base images
test-image: install
	scripts/install-podman.sh
	source $(VENV)/bin/activate && $(PODMAN_ENV) python -m pytest -q tests/test_image.py
