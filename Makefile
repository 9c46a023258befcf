# The two commands of the README: `make run` (main job) and `make test` (whole test suite).
# Both install what is missing first (infra/setup.sh skips what is present).
CARGO ?= cargo

.PHONY: setup build run test
setup:
	./infra/setup.sh

build: setup
	$(CARGO) build --release --workspace

run: build
	./infra/run-local.sh $(ARGS)

# Formatting and lints first: they fail in seconds, the tests take minutes.
test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --no-fail-fast
	$(CARGO) build -p meridian-node
	cd client/web && npm test
