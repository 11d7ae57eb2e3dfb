package bonafide_test

import (
	"encoding/json"
	"errors"
	"testing"

	"bonafide"
)

func TestVerdict(t *testing.T) {
	t.Parallel()
	score := func(v float64) *float64 { return &v }
	res := func(conf *float64, resolution string) bonafide.MediaResult {
		return bonafide.MediaResult{MediaID: "m", Kind: bonafide.KindImage, ConfidenceSpoofing: conf, Resolution: resolution}
	}
	const ok, declined = bonafide.ResolutionSuccess, bonafide.ResolutionDeclined
	tests := []struct {
		name       string
		results    []bonafide.MediaResult
		resolution string
		data       string
	}{
		{"no media", nil, ok, `{"confidence_spoofing":null,"note":"no media with a video_selfie tag or a photo to analyse"}`},
		{"one live", []bonafide.MediaResult{res(score(0.1), ok)}, ok, `{"confidence_spoofing":0.1}`},
		{"a score of zero stays zero", []bonafide.MediaResult{res(score(0), ok)}, ok, `{"confidence_spoofing":0}`},
		{"the highest score", []bonafide.MediaResult{res(score(0.2), ok), res(score(0.7), declined), res(score(0.4), ok)}, declined, `{"confidence_spoofing":0.7}`},
		{"declined by any media", []bonafide.MediaResult{res(score(0.1), ok), res(score(0.3), declined)}, declined, `{"confidence_spoofing":0.3}`},
		// Scores below zero never occur, but the highest starts from nothing, not from 0.
		{"starts from nothing", []bonafide.MediaResult{res(score(-0.5), ok)}, ok, `{"confidence_spoofing":-0.5}`},
		{"no score at all", []bonafide.MediaResult{res(nil, ok)}, ok, `{"confidence_spoofing":null}`},
		{"unscored media are skipped", []bonafide.MediaResult{res(nil, declined), res(score(0.25), ok)}, declined, `{"confidence_spoofing":0.25}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resolution, data := bonafide.Verdict(tt.results)
			if resolution != tt.resolution || string(data) != tt.data {
				t.Errorf("Verdict = %s %s, want %s %s", resolution, data, tt.resolution, tt.data)
			}
			if !json.Valid(data) {
				t.Errorf("results_data %s is not JSON", data)
			}
		})
	}
}

func TestParseAnalysisParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want bool
	}{
		{"", true},
		{`{}`, true},
		{`{"extract_best_shot":true}`, true},
		{`{"extract_best_shot":false}`, false},
		{`{"extract_best_shot":"no"}`, true}, // mistyped: the default stands
		{`{"other":1}`, true},
	}
	for _, tt := range tests {
		if got := bonafide.ParseAnalysisParams(json.RawMessage(tt.raw)).ExtractBestShot; got != tt.want {
			t.Errorf("ParseAnalysisParams(%q).ExtractBestShot = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// TestMediaErrorText: the one media error reads as the decoder reports it, as the Analyzer names
// it, and about an analysis's media as a whole.
func TestMediaErrorText(t *testing.T) {
	cause := errors.New("moov atom not found")
	dec := &bonafide.MediaError{File: "clip.mp4", Code: "CORRUPT_MEDIA", Msg: "the video could not be read", Err: cause}
	named := &bonafide.MediaError{Media: &bonafide.Media{ID: "m1", OriginalName: "clip.mp4"}, Code: dec.Code, Msg: dec.Msg, Err: dec}
	whole := &bonafide.MediaError{Media: &bonafide.Media{}, Code: "NOT_ENOUGH_FACES", Msg: "one face"}
	for _, c := range []struct {
		err  *bonafide.MediaError
		want string
	}{
		{dec, "clip.mp4: the video could not be read: moov atom not found"},
		{&bonafide.MediaError{Code: "EMPTY_FILE"}, "EMPTY_FILE"},
		{named, "media m1 (clip.mp4) could not be analysed: CORRUPT_MEDIA: the video could not be read"},
		{whole, "NOT_ENOUGH_FACES: one face"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
	if !errors.Is(named, cause) {
		t.Error("the named error does not unwrap to the decoder's cause")
	}
}
