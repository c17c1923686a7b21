# telcolake — the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin
export CGO_ENABLED := 1

.PHONY: all build demo test vet fmt-check fuzz bench package clean

all: build

## build: the CLI and every function binary into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/telcolake ./cmd/telcolake
	@for f in functions/*/; do n=$$(basename $$f); $(GO) build -o $(BIN)/$$n ./$$f || exit 1; done

## demo: generate exports, ingest them into a local lake, print what happened
demo: build
	$(BIN)/telcolake demo

## test: formatting, vet, and every test (PostgreSQL catalog when available)
test: fmt-check vet
	.ci/with-postgres $(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run the row-parser fuzzer for a while (tests run its seeds only)
fuzz:
	$(GO) test ./lake -run XXX -fuzz FuzzParseCDR -fuzztime 2m

## bench: ingest ~10M CDR rows and compare with DuckDB; writes BENCHMARKS.md
bench:
	cd bench && $(GO) run .

clean:
	rm -rf $(BIN) .localdata
