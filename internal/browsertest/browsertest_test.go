package browsertest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"bonafide/internal/browsertest"
)

// The harness starts chromium, loads a page from loopback, and WaitFor sees what its script does
// (and reports the page when it times out).
func TestHarness(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `setTimeout(() => { document.body.dataset.ready = "yes"; console.log("ready"); }, 200);`)
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><title>t</title><body><p>harness</p><script src="app.js"></script>`)
		}
	}))
	defer srv.Close()
	ctx := browsertest.New(t, browsertest.WithWindowSize(400, 300), browsertest.WithTimeout(time.Minute))
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := browsertest.WaitFor(wctx, `document.body.dataset.ready === "yes"`, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if err := browsertest.WaitFor(short, `document.body.dataset.never === "1"`, 50*time.Millisecond); err == nil {
		t.Fatal("WaitFor of a condition that never holds returned nil")
	}
}
