package bonafide

import (
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour,
		"90m": 90 * time.Minute, "1s": time.Second, " 7d ": 7 * 24 * time.Hour} {
		got, err := ParseRetention(in)
		if err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "30", "-1d", "+1d", "1.5d", "30 days", "1w", "99999999d"} {
		if _, err := ParseRetention(in); err == nil {
			t.Errorf("ParseRetention(%q): no error", in)
		}
	}
	for d, want := range map[time.Duration]string{0: "0", 30 * 24 * time.Hour: "30d", 36 * time.Hour: "36h",
		90 * time.Minute: "90m", 61 * time.Second: "61s"} {
		if got := FormatRetention(d); got != want {
			t.Errorf("FormatRetention(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseRetention(FormatRetention(d)); err != nil || back != d {
			t.Errorf("round trip of %v: %v, %v", d, back, err)
		}
	}
	p := RetentionPolicy{Media: time.Hour, Folders: 2 * time.Hour}
	zero := time.Duration(0)
	if got := p.Effective(Retention{Media: &zero}); got != (RetentionPolicy{Media: 0, Folders: 2 * time.Hour}) {
		t.Errorf("Effective: %+v", got)
	}
}
