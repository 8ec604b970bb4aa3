# mtl_music — developer entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The local CPU wheel; a bare `torch` requirement would pull gigabytes of CUDA packages.
TORCH_PIN ?= torch==2.13.0
TINYSOUNDFONT_PIN ?= tinysoundfont==0.3.7
STAMP  := $(VENV)/.installed

.PHONY: install test demo study bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_PIN)"
	$(PIP) install -q -e ".[dev,wandb,launchers]"
	# Its optional pyaudio dependency does not build here; the synthesiser needs none of it.
	$(PIP) install -q --no-deps "$(TINYSOUNDFONT_PIN)"
	touch $(STAMP)

# pytest exits 5 when it collected no test; make treats any non-zero exit as failure.
test: install
	WANDB_MODE=offline $(PY) -m pytest -q

demo: install
	$(PY) -m mtl_music.train

# A small real study on the demo corpus: design, training + transfer of every run, analysis, report.
# The budget is conf/study.yaml's `budget` (e.g. make study STUDY_ARGS="budget.phase3_runs=30").
study: install
	$(PY) -m mtl_music.study $(STUDY_ARGS)

# bench_gpu.py runs at GPU sizes where CUDA is present, at small CPU sizes elsewhere.
bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
