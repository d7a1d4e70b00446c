# lvsperf — see README.md. `make demo` and `make test` do all the set-up they need.
GO       ?= go
BIN      := bin/lvsperf
DEMO_OUT ?= demo-out

.PHONY: build test vet fmt-check bench bench-netpipe bench-director bench-http bench-stream demo regress experiments clean

build:
	$(GO) build -o $(BIN) ./cmd/lvsperf

# The whole suite; tests that need root or a Debian peer fail under CI=true
# when it is missing and skip with a reason elsewhere (.ci/run installs them).
test: fmt-check vet
	$(GO) test -count=1 -timeout 14m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Side-by-side benchmarks against the real peers (NPtcp, HAProxy, nginx+wrk+hey, iperf3).
bench: bench-netpipe bench-director bench-http bench-stream

bench-netpipe:
	$(GO) run ./bench/netpipe -mode pingpong,bidir,pairs -rounds 3

bench-director: build
	$(GO) run ./bench/director -lvsperf $(BIN)

bench-http:
	$(GO) run ./bench/http

bench-stream: build
	$(GO) run ./bench/stream -lvsperf $(BIN)

# The main job on the embedded default: both ends in one process on loopback,
# direct and through the embedded director; results, plots and tables in
# $(DEMO_OUT): netpipe, stream, the HTTP sweep, and the seed's latency table.
demo: build
	mkdir -p $(DEMO_OUT)
	$(BIN) netpipe --via direct,director -u 8M -p 0 --budget 30s --out $(DEMO_OUT) --name netpipe -q
	$(BIN) stream -u 8M -p 0 --cpu 0 --budget 10s --out $(DEMO_OUT) --name stream -q
	$(BIN) ptester --sweep --via direct -c 2 -t 0.2 --out $(DEMO_OUT)
	$(BIN) ptester --sweep --via director --realservers 2 -c 2 -t 0.2 --out $(DEMO_OUT)
	$(BIN) latency-table --budget 3s --out $(DEMO_OUT) -q | tee $(DEMO_OUT)/latency-table.txt
	$(BIN) report $(DEMO_OUT) -o $(DEMO_OUT)/report.html
	@echo "demo: results, plots, tables and report.html are in $(DEMO_OUT)/"

# The seed's experiments in a network-namespace lab (needs root): forward,
# NAT, DR, martian, MTU, NICs, transparent proxy, http, stream, rsh, lpd, nfs.
experiments: build
	$(BIN) experiment all --out out/experiments

# Regression gate: netpipe direct and through the director in one run; the
# director/direct ratio against regress/baseline (holds across machines).
# Exit 1 on a regression, 2 when it cannot compare. Built, not `go run`,
# because go run turns exit code 2 into 1.
regress:
	$(GO) build -o bin/regress ./regress
	timeout 300 bin/regress -timeout 240s -out out/regress

clean:
	rm -rf bin $(DEMO_OUT) out
