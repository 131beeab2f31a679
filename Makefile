# netstack: `make demo` and `make test` are the whole set-up.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the interop tests and benchmarks drive as real peers.
APT_PACKAGES := tshark tcpdump socat iproute2 iputils-ping iputils-arping dnsmasq-base radvd \
                iperf3 curl netcat-openbsd ethtool busybox isc-dhcp-client hping3 ndisc6 openssl slirp

.PHONY: demo test bench lint system-deps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/netstack demo

# Installs the real peers when running as root and something is missing.
system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy --strict src

test: $(STAMP) system-deps lint
	$(VENV)/bin/pytest -q

# The benchmarks' extra (`.[dev,bench]`), and PyTCP's own Python 3.14 runtime in
# $(VENV)/pytcp (PyTCP 3.0.9 needs 3.14; see benchmarks/pytcp_runtime.py). If that cannot be
# provisioned the benchmark still runs and its PyTCP rows say why.
BENCH_STAMP := $(VENV)/.installed-bench
PYTCP_RUNTIME := $(VENV)/pytcp

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

$(PYTCP_RUNTIME)/.installed: pyproject.toml benchmarks/pytcp_runtime.py | $(STAMP)
	-$(PY) benchmarks/pytcp_runtime.py install $(PYTCP_RUNTIME)

bench: $(BENCH_STAMP) $(PYTCP_RUNTIME)/.installed system-deps
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache netstack-demo
