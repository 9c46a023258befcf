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

test: setup
	$(CARGO) test --workspace --no-fail-fast
