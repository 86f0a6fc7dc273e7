# Documentation. The build is offline and treats every warning as an error; it
# runs the gallery examples (examples/plot_*.py) and a `fairif demo`.
SPHINXBUILD ?= sphinx-build
SPHINXOPTS ?=

.PHONY: docs docs-noplot clean-docs

docs:
	$(SPHINXBUILD) -W --keep-going -b html $(SPHINXOPTS) docs docs/_build/html

# Faster: the gallery pages without running the examples.
docs-noplot:
	$(SPHINXBUILD) -W --keep-going -b html -D plot_gallery=0 $(SPHINXOPTS) docs docs/_build/html

clean-docs:
	rm -rf docs/_build docs/generated docs/auto_examples
