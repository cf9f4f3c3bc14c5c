# rocsample: `make demo` and `make test` set everything up themselves (idempotent).
VENV    ?= .venv
PY      := $(VENV)/bin/python
ARCHS   ?=
MODULES ?=
JOBS    ?=
OUT     ?= build/hsaco
PYTEST_ARGS ?=

.PHONY: setup demo test test-gpu test-gpu-hip test-kernel-host hsaco lint wheels flashinfer-ref clean bench bench-elementwise bench-mlp

$(PY) setup:
	@bash tools/setup.sh $(VENV)

demo: setup
	$(PY) -m rocsample demo

test: setup
	$(PY) -m ruff check rocsample tests tools
	$(PY) -m pytest $(PYTEST_ARGS)

# On a GPU machine: every GPU test must run (none may skip for lack of a device).
test-gpu:
	ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra $(PYTEST_ARGS)

# On an NVIDIA GPU machine: the real hip backend, through the real hip-python, on the
# HIP-on-CUDA test library in tools/hipshim (test equipment, never chosen outside tests).
test-gpu-hip:
	$(MAKE) -C tools/hipshim PYTHON=python3
	ROCM_PATH=$(CURDIR)/tools/hipshim/build ROCSAMPLE_BACKEND=hip ROCSAMPLE_REQUIRE_GPU=1 \
	  python3 -m pytest -m gpu -ra $(PYTEST_ARGS)

# Without a GPU: the GPU suites' sampling tests on the kernels' own code built for the CPU
# (tests/kernel_device.py, test equipment); WAVE=64 is CDNA's width, 32 NVIDIA's and RDNA's.
# Tens of minutes; tests that need a real driver (torch, streams, events) fail there.
WAVE ?= 64
test-kernel-host: setup
	ROCSAMPLE_BACKEND=cuda $(PY) -m pytest -p tests.kernel_host_plugin --host-wave $(WAVE) \
	  -m gpu -ra tests/test_gpu.py tests/test_gpu_seeds.py tests/test_gpu_half.py $(PYTEST_ARGS)

# On a GPU machine with torch: latency vs the memory floor and torch baselines.
bench:
	python3 -m rocsample bench --out bench/results/latest

bench-elementwise:
	python3 -m rocsample bench-elementwise --out bench/results/latest

bench-mlp:
	python3 -m rocsample bench-mlp --out bench/results/latest

# Precompile the kernel modules (MODULES, default all) for ARCHS (default: the local AMD GPU,
# else gfx90a gfx1030), JOBS at a time (default: the cores available). A target that fails
# costs only itself: every module is written with the targets that built, and the command
# says which failed and exits non-zero.
hsaco: setup
	$(PY) -m rocsample compile $(foreach a,$(ARCHS),--arch $(a)) \
	  $(foreach m,$(MODULES),--module $(m)) $(if $(JOBS),--jobs $(JOBS)) --out $(OUT)

lint: setup
	$(PY) -m ruff check rocsample tests tools

# Wheels the GPU machines lack (Python 3.12, no network there): carried in .whl/.
wheels:
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
	  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
	  --platform manylinux2014_x86_64 --platform any -d .whl \
	  platformdirs==4.14.5 hip-python==10.0.0.0.1.2 rocm-bindings-hip==10.0.0.0.1.2 \
	  rocm-bindings-core==10.0.0.0.1.2

# FlashInfer's MLP kernels as the MLP benchmark's baseline (.fi/libfi_ref.so; nvcc and PyPI).
flashinfer-ref:
	bash tools/flashinfer_ref/build.sh

clean:
	rm -rf build .pytest_cache .ruff_cache

# As root: a current ROCm (Debian unstable: HIP 6.4, hipcc/comgr 7.0) in build/rocm-current
# (debootstrap, reused by later runs; the host is not touched), then every kernel module for
# AMD_ARCHS through rocsample's hiprtc path (make hsaco inside that root) and hipcc --genco,
# validated, with the per-kernel resource table in build/amd-check/resources.md.
# AMD_RESULTS=bench/results/<date>-amd-targets also copies the table and logs there.
AMD_ARCHS   ?= gfx942:sramecc+:xnack- gfx942 gfx950 gfx1100 gfx1201
AMD_RESULTS ?=
# Every module compiled with another NVRTC than the installed one (fetched with pip once).
NVRTC_VERSION ?= 13.0.88
.PHONY: nvrtc-compat
nvrtc-compat: setup
	$(PY) tools/nvrtc_compat.py --version $(NVRTC_VERSION)

.PHONY: amd-check
amd-check:
	bash tools/rocm-current.sh --archs "$(AMD_ARCHS)" $(if $(AMD_RESULTS),--results $(AMD_RESULTS))
