# telcolake — the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin
export CGO_ENABLED := 1

.PHONY: all cli build demo local test vet fmt-check fuzz chaos bench scale package deploy localstack-up localstack-deploy localstack-down clean

all: build

## cli: the telcolake command (the local stack builds the functions it runs itself)
cli:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/telcolake ./cmd/telcolake

## build: the CLI and every function binary into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/telcolake ./cmd/telcolake
	@for f in functions/*/; do n=$$(basename $$f); $(GO) build -o $(BIN)/$$n ./$$f || exit 1; done

## demo: the whole job on the embedded local stack (no Docker, no AWS account)
demo: cli
	$(BIN)/telcolake demo

## local: the embedded local stack alone, until Ctrl-C
local: cli
	$(BIN)/telcolake local

## test: formatting, vet, the Lambda packages, and every test (PostgreSQL catalog when available);
## TELCOLAKE_DIST makes infra's emulated run use the zips just built (arm64, under qemu-user);
## -timeout 20m: lake, localstack and infra each take 5-6 min on a loaded 2-core machine
test: fmt-check vet package
	TELCOLAKE_DIST=$(CURDIR)/dist .ci/with-postgres $(GO) test -count=1 -timeout 20m ./...

## vet: also the bench module (its own go.mod, which ./... does not reach: a dependency the
## main module gains must be added there too)
vet:
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run the row-parser fuzzer for a while (tests run its seeds only)
fuzz:
	$(GO) test ./lake -run XXX -fuzz FuzzParseCDR -fuzztime 2m

## chaos: long rounds of killing ingest processes (kill -9) at random moments and checking that
## nothing is lost or doubled (make test runs a short round); CHAOS_FLAGS='-chaos.seed=N' replays one
CHAOS_FLAGS ?=
chaos:
	.ci/with-postgres $(GO) test -count=1 -v -timeout 60m -run . ./chaos -chaos.long $(CHAOS_FLAGS)

## bench: ingest, feature build and training at 100,000 subscribers, each against DuckDB where it
## applies; writes BENCHMARKS.md. BENCH_FLAGS passes flags on, e.g. BENCH_FLAGS='-parts features';
## BENCH_FLAGS='-parts shards' serves 10M customers from 8 shard processes (not in the default run).
BENCH_FLAGS ?=
bench:
	cd bench && $(GO) run . $(BENCH_FLAGS)

## scale: the whole path (gen, ingest in batches, MonthlyRun and DailyScore fanned out, api burst) at
## 1M subscribers, every invocation a child process (wall, peak RSS against its MemorySize); writes the
## scale section of BENCHMARKS.md with a projection to 100M. Not part of test. SCALE_FLAGS='-subs 100000'
## runs a smaller size.
SCALE_FLAGS ?=
scale:
	cd bench && $(GO) run ./scale $(SCALE_FLAGS)

## package: one Lambda zip per function in dist/ (bootstrap for provided.al2023 on linux/arm64;
## train, which links liblinear, cross-compiled with cgo by aarch64-linux-gnu-gcc and linked static)
package:
	$(GO) run ./cmd/package -out dist

## deploy: package, then sam deploy of infra/template.yaml (not run here: no AWS account). Needs the
## SAM CLI and AWS credentials; PSEUDONYM_KEY is required, the rest have defaults (CATALOG_URI: glue,
## the Glue database crm the template creates; or postgres://... reachable from the functions).
STAGE              ?= dev
STACK              ?= telcolake-$(STAGE)
CATALOG_URI        ?= glue
PSEUDONYM_KEY      ?=
API_KEYS_PARAMETER ?=
deploy: package
	@test -n "$(CATALOG_URI)" || { echo "deploy: set CATALOG_URI (glue, or postgres://... reachable from the functions)"; exit 1; }
	@test -n "$(PSEUDONYM_KEY)" || { echo "deploy: set PSEUDONYM_KEY (a secret of 16 characters or more)"; exit 1; }
	sam deploy --template-file infra/template.yaml --stack-name $(STACK) --capabilities CAPABILITY_IAM \
	  --resolve-s3 --no-fail-on-empty-changeset --parameter-overrides Stage=$(STAGE) \
	  CatalogURI='$(CATALOG_URI)' PseudonymKey='$(PSEUDONYM_KEY)' ApiKeysParameter='$(API_KEYS_PARAMETER)'

## localstack-up / -deploy / -down: real LocalStack in Docker (not verified here: no Docker engine)
LOCALSTACK_PARAMS ?= CatalogURI=postgres://telcolake:telcolake@catalog:5432/telcolake?sslmode=disable PseudonymKey=localstack-pseudonym-key
localstack-up:
	docker compose -f localstack/docker-compose.yml up -d --wait

localstack-deploy: package
	samlocal deploy --template-file infra/template.yaml --stack-name telcolake-local \
	  --capabilities CAPABILITY_IAM --resolve-s3 --no-confirm-changeset --parameter-overrides $(LOCALSTACK_PARAMS)

localstack-down:
	docker compose -f localstack/docker-compose.yml down

clean:
	rm -rf $(BIN) dist .localdata .aws-sam
