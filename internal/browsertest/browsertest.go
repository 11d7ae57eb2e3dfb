// Package browsertest runs a real browser for tests: Debian's chromium, headless, driven with
// github.com/chromedp/chromedp. New finds the browser, starts it for one test and stops it when
// the test ends; without a browser the test is skipped, or fails when CI=true (CI must run it).
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Option changes how the browser is started.
type Option func(*config)

type config struct {
	flags         []chromedp.ExecAllocatorOption
	width, height int
	timeout       time.Duration
}

// WithFakeCamera gives the page a fake camera that plays the y4m (or mjpeg) file in a loop, and
// grants camera access without asking.
func WithFakeCamera(file string) Option {
	return func(c *config) {
		c.flags = append(c.flags, chromedp.Flag("use-fake-device-for-media-stream", true),
			chromedp.Flag("use-fake-ui-for-media-stream", true),
			chromedp.Flag("use-file-for-fake-video-capture", file))
	}
}

// WithFlag adds a command-line switch of chromium (value true for a bare switch).
func WithFlag(name string, value any) Option {
	return func(c *config) { c.flags = append(c.flags, chromedp.Flag(name, value)) }
}

// WithWindowSize sets the window (the page's viewport) size.
func WithWindowSize(w, h int) Option { return func(c *config) { c.width, c.height = w, h } }

// WithTimeout bounds everything the test does with the browser (default 3 minutes).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Path finds the browser: $BONAFIDE_CHROMIUM, then /usr/bin/chromium, then chromium,
// chromium-browser, google-chrome on the PATH; "" when there is none.
func Path() string {
	if p := os.Getenv("BONAFIDE_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless browser for the test and returns the context of its first tab; run
// chromedp actions with it. The page's console messages and exceptions go to the test log. The
// browser is stopped when the test ends.
func New(t testing.TB, opts ...Option) context.Context {
	t.Helper()
	path := Path()
	if path == "" {
		msg := "no chromium found (install the Debian package chromium, or set BONAFIDE_CHROMIUM); scripts/setup.sh installs it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c := &config{width: 800, height: 1000, timeout: 3 * time.Minute}
	for _, o := range opts {
		o(c)
	}
	flags := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	flags = append(flags, chromedp.ExecPath(path), chromedp.WindowSize(c.width, c.height),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	if os.Geteuid() == 0 {
		flags = append(flags, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	flags = append(flags, c.flags...)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), c.timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, flags...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(func(f string, args ...any) {
		t.Logf("chromedp: "+f, args...)
	}))
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("starting %s: %v", path, err)
	}
	err := chromedp.Listen(bctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			t.Logf("page console.%s: %s", e.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			t.Logf("page exception: %s", msg)
		}
	})
	if err != nil {
		t.Fatalf("listening to the page: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	return bctx
}

// WaitFor polls the JavaScript expression until it is true (a boolean), or the context ends; the
// error then says what the page showed. An expression that throws (the next page still loading,
// with no body yet) counts as not yet true.
func WaitFor(ctx context.Context, expr string, interval time.Duration) error {
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			state, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[string](`document.body ? document.body.dataset.screen + ": " + document.body.innerText : ""`))
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last evaluation: %v; page: %q)", expr, ctx.Err(), last, state)
			}
			return fmt.Errorf("waiting for %s: %w (page: %q)", expr, ctx.Err(), state)
		case <-time.After(interval):
		}
	}
}

// hidePictures covers every image and video of the page with a grey box of its size, so a
// screenshot for the documentation carries no picture of a person (the test media are
// third-party; the repository holds none of them, screenshots included).
const hidePictures = `(() => {
  for (const el of document.querySelectorAll("img, video")) {
    const r = el.getBoundingClientRect();
    const box = document.createElement("div");
    box.textContent = "picture left out of the screenshot";
    Object.assign(box.style, {width: r.width + "px", height: Math.max(r.height, 60) + "px", background: "#d0d4da",
      color: "#333", font: "12px sans-serif", display: "flex", alignItems: "center", justifyContent: "center",
      textAlign: "center", borderRadius: "4px"});
    el.replaceWith(box);
  }
  return true;
})()`

// Screenshot writes the page's viewport as dir/name, a PNG reduced to a 128-colour palette (small
// enough for a README) with ffmpeg; a relative dir is taken from the module's root (where go.mod
// is), whichever package's test calls it. With hide, images and videos are replaced by grey boxes
// first.
func Screenshot(t testing.TB, ctx context.Context, dir, name string, hide bool) {
	t.Helper()
	if !filepath.IsAbs(dir) {
		root, err := os.Getwd()
		for err == nil {
			if _, serr := os.Stat(filepath.Join(root, "go.mod")); serr == nil {
				break
			}
			if parent := filepath.Dir(root); parent != root {
				root = parent
			} else {
				err = fmt.Errorf("no go.mod above the test's directory")
			}
		}
		if err != nil {
			t.Fatalf("screenshot dir %s: %v", dir, err)
		}
		dir = filepath.Join(root, dir)
	}
	if hide {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](hidePictures)); err != nil {
			t.Fatalf("hiding the pictures: %v", err)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(t.TempDir(), "raw.png")
	if err := os.WriteFile(raw, png, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", raw, "-vf",
		"split[a][b];[a]palettegen=max_colors=128[p];[b][p]paletteuse=dither=none", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", out, err, msg)
	}
	if info, err := os.Stat(out); err == nil {
		t.Logf("wrote %s (%d bytes)", out, info.Size())
	}
}
