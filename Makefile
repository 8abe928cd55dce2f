# The two commands of the README are `make review` and `make test`; the rest is for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
YEAR   ?= 2021
LANG_  ?= en
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: install sysdeps review test lint docs lab data notebooks bench clean

# System packages: a CJK font for Chinese figure labels and Chromium for the report's browser test.
# Installed with apt-get when running as root on Debian/Ubuntu; elsewhere a note says what to install.
SYSPKGS := fonts-wqy-microhei chromium

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,dask,docs]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (governance-evaluation)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

sysdeps:
	@missing=""; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-microhei"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing system packages:$$missing"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "note: please install the system packages$$missing (Chinese figure labels and the browser test need them)"; \
	fi

review: $(STAMP) sysdeps
	$(BIN)/evaluation review data/zhangwan-synthetic --year $(YEAR) --lang $(LANG_) --out reports/

test: $(STAMP) sysdeps lint docs
	DOCS_HTML=docs/_build/html $(BIN)/python -m pytest $(NBVAL) --durations=15 tests notebooks

# Style and docstrings (pyproject.toml [tool.ruff]): part of `make test`.
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/_ext

# The documentation site, offline, every warning an error (tests/test_docs.py checks the result).
docs: $(STAMP)
	$(BIN)/python -m sphinx -b html -W --keep-going -q docs docs/_build/html

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

data: $(STAMP)
	$(BIN)/evaluation synth --out data/zhangwan-synthetic --seed 20201225

notebooks: $(STAMP)
	for nb in notebooks/0*.ipynb; do $(BIN)/jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf $(VENV) reports build src/*.egg-info
