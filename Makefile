# One-command set-up: every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
TEST_OUTPUT := $(CURDIR)/.test-outputs
# Two pytest workers, one file each at a time (a notebook's cells stay in one kernel): the tests are
# mostly single-threaded TensorFlow dispatch, so two workers on two cores ran 1.7x faster here (the quality
# trainings gain nothing from the second worker; tests/file_schedule.py starts them first).
PYTEST_WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder
# One OpenBLAS thread per process under test: numpy's matrix products (FID, KID, nearest-neighbour
# distances) ran 3-13x slower with two OpenBLAS threads each while the other worker kept a core busy
# (notebooks 03 and 08 on two workers: 98 s with the default, 80 s with one thread; 2026-12-04).
TEST_ENV := OPENBLAS_NUM_THREADS=1

.PHONY: demo test test-fast notebooks benchmark site wheel clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.installed

# Train a small conditional GAN on MNIST (offline: the 4,000 training digits of mnist_5k); writes
# outputs/demo/cgan/generator.keras and samples.png. tests/test_gan_demo.py runs this line's training.
# The conditional GAN trains in float32 on every CPU (tests/test_gan_demo.py has the figures).
demo: $(VENV)/.installed
	$(VENV)/bin/aigc-keras train cgan --epochs 20 --out outputs/demo --overwrite

# Everything: the linter, unit tests, quality trainings and every notebook (quick mode, nbval).
# The main pytest run (AIGC_PROJECT_TIME=1, see tests/conftest.py) starts by measuring this
# machine's DCGAN fit() throughput (5-10 s, before its workers start), measures it again after
# they stop, and ends with a "test time" section: its own wall time (the probes left out) and that
# time projected by the probes' mean onto the 461-images/s reference machine, also written to
# $(TEST_OUTPUT)/test_time.json.  The projection covers that
# run only: not the linter, the set-up or the serial and benchmark run after it (100-200 s on a 2-core CPU).
test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	rm -rf $(TEST_OUTPUT)
	$(TEST_ENV) AIGC_PROJECT_TIME=1 AIGC_QUICK=1 AIGC_OUTPUT=$(TEST_OUTPUT) $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS) -m "not benchmark and not serial" tests notebooks --nbval-lax --durations=25
	$(TEST_ENV) AIGC_QUICK=1 AIGC_OUTPUT=$(TEST_OUTPUT) $(PY) -m pytest -q -p no:cacheprovider -m "benchmark or serial" tests

# Unit tests without quality trainings or notebooks, for iteration.
test-fast: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(TEST_ENV) AIGC_QUICK=1 $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS) -m "not slow and not benchmark and not serial" tests

# Re-execute the notebooks in standard mode (what is committed); about 15 minutes each at most.
notebooks: $(VENV)/.installed-dev
	$(PY) -m aigc_keras.chapters execute notebooks/*.ipynb

# The full benchmark (throughput, pipeline, sampling, time-to-quality, memory): writes benchmarks/results/.
benchmark: $(VENV)/.installed
	$(PY) -m benchmarks.run

# The course as a static website in site/ (the notebooks' committed outputs, nothing executed; MathJax
# from Debian's libjs-mathjax, served from site/ itself). Publish by copying site/ to any static host.
site: $(VENV)/.installed-dev
	$(PY) docs/site.py site

# The wheel a teacher hands to a class (dist/aigc_keras-VERSION-py3-none-any.whl); no network needed.
wheel: $(VENV)/.installed-dev
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

clean:
	rm -rf $(VENV) $(TEST_OUTPUT) outputs site build dist
