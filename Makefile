# The two commands of the README are `make review` and `make test`; the rest is for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
YEAR   ?= 2021
LANG_  ?= en
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: install review test lab data notebooks bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,dask]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (governance-evaluation)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

review: $(STAMP)
	$(BIN)/evaluation review data/zhangwan-synthetic --year $(YEAR) --lang $(LANG_) --out reports/

test: $(STAMP)
	$(BIN)/python -m pytest $(NBVAL) tests notebooks

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
