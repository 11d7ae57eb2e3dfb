package storeutil

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"bonafide"
)

var epoch = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))

func fixed(t time.Time) Clock { return func() time.Time { return t } }

func TestClock(t *testing.T) {
	c := fixed(epoch)
	want := time.Date(2024, 5, 6, 6, 8, 9, 123000000, time.UTC)
	if got := c.Now(); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	var created, updated time.Time
	c.SetTimes(&created, &updated)
	if !created.Equal(want) || !updated.Equal(want) {
		t.Fatalf("SetTimes on zero times: %v, %v", created, updated)
	}
	created, updated = epoch.Add(-time.Hour), time.Time{}
	c.SetTimes(&created, &updated)
	if want := Norm(epoch.Add(-time.Hour)); !created.Equal(want) || !updated.Equal(want) {
		t.Fatalf("SetTimes with a creation time: %v, %v", created, updated)
	}
	if Clock(nil).Now().IsZero() {
		t.Fatal("a nil clock has no time")
	}
}

func TestJSON(t *testing.T) {
	plain := JSON{}
	strict := JSON{Unstorable: func(raw []byte) string {
		if strings.Contains(string(raw), "bad") {
			return "contains bad"
		}
		return ""
	}}
	if got, err := plain.Text("f", nil, "{}"); got != "{}" || err != nil {
		t.Errorf("Text(empty) = %q, %v", got, err)
	}
	if _, err := plain.Text("f", json.RawMessage(`{`), "{}"); bonafide.CodeOf(err) != bonafide.CodeInvalidValue {
		t.Errorf("Text(invalid): %v", err)
	}
	if got, err := plain.Nullable("f", nil); got != nil || err != nil {
		t.Errorf("Nullable(empty) = %v, %v", got, err)
	}
	if got, err := plain.Nullable("f", json.RawMessage(`"bad"`)); got != `"bad"` || err != nil {
		t.Errorf("plain Nullable = %v, %v", got, err)
	}
	if _, err := strict.Nullable("f", json.RawMessage(`"bad"`)); bonafide.CodeOf(err) != bonafide.CodeInvalidValue ||
		!strings.Contains(err.Error(), "f is not valid JSON for storage: contains bad") {
		t.Errorf("strict Nullable: %v", err)
	}
	if got, err := Array[string](plain, "f", nil); got != "[]" || err != nil {
		t.Errorf("Array(nil) = %q, %v", got, err)
	}
	if got, err := Array(plain, "f", []string{"a", "bad"}); got != `["a","bad"]` || err != nil {
		t.Errorf("Array = %q, %v", got, err)
	}
	if _, err := Array(strict, "f", []string{"bad"}); bonafide.CodeOf(err) != bonafide.CodeInvalidValue ||
		!strings.Contains(err.Error(), "f cannot be stored: contains bad") {
		t.Errorf("strict Array: %v", err)
	}
	for _, text := range []string{"", "null", "[]"} {
		if got, err := DecodeArray[string]("f", text); got == nil || len(got) != 0 || err != nil {
			t.Errorf("DecodeArray(%q) = %#v, %v", text, got, err)
		}
	}
	if _, err := DecodeArray[string]("f", "{"); err == nil {
		t.Error("DecodeArray of invalid JSON succeeded")
	}
}

func TestPrepareAnalyses(t *testing.T) {
	c := Codec{Clock: fixed(epoch)}
	old := epoch.Add(time.Hour)
	as := []*bonafide.Analysis{
		{FolderID: "f2", Type: "QUALITY"},
		{FolderID: "f1", Type: "QUALITY", State: bonafide.StateFinished, Updated: old, Created: old},
		{FolderID: "f2", Type: "QUALITY", GroupID: "g"},
	}
	b, err := c.PrepareAnalyses(as)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Folders, []string{"f2", "f1"}) {
		t.Errorf("folders %v", b.Folders)
	}
	if b.Latest["f1"] != Stamp(old) || b.Latest["f2"] != Stamp(epoch) {
		t.Errorf("latest %v", b.Latest)
	}
	if !slices.Equal(b.Queue, []string{as[0].ID, as[2].ID}) {
		t.Errorf("queue %v", b.Queue)
	}
	if as[0].GroupID == "" || as[0].GroupID != as[1].GroupID || as[2].GroupID != "g" {
		t.Errorf("groups %q %q %q", as[0].GroupID, as[1].GroupID, as[2].GroupID)
	}
	if as[0].ID == "" || as[0].State != bonafide.StateProcessing || b.Rows[0].Meta != "{}" || b.Rows[0].Source != "[]" {
		t.Errorf("defaults: %+v %+v", as[0], b.Rows[0])
	}
	b.Fill()
	if string(as[0].MetaData) != "{}" || as[0].SourceMedia == nil || as[0].Results == nil {
		t.Errorf("after Fill: %+v", as[0])
	}
	for _, bad := range []*bonafide.Analysis{{Type: "QUALITY"}, {FolderID: "f"}, {FolderID: "f", Type: "Q", Params: []byte("{")}} {
		if _, err := c.PrepareAnalyses([]*bonafide.Analysis{bad}); bonafide.CodeOf(err) != bonafide.CodeInvalidValue {
			t.Errorf("PrepareAnalyses(%+v): %v", bad, err)
		}
	}
}

func TestPrepareFinish(t *testing.T) {
	c := Codec{Clock: fixed(epoch)}
	if _, err := c.PrepareFinish(&bonafide.Analysis{State: bonafide.StateProcessing}); bonafide.CodeOf(err) != bonafide.CodeInvalidValue {
		t.Errorf("finishing as PROCESSING: %v", err)
	}
	a := &bonafide.Analysis{State: bonafide.StateFailed}
	r, err := c.PrepareFinish(a)
	if err != nil || r.Results != "[]" || r.ResultsData != nil || !a.Updated.Equal(c.Now()) {
		t.Fatalf("PrepareFinish = %+v, %v (updated %v)", r, err, a.Updated)
	}
	r.Fill()
	if a.Results == nil {
		t.Error("Results still nil after Fill")
	}
}

func TestPrepareMediaAndFolder(t *testing.T) {
	c := Codec{Clock: fixed(epoch)}
	ms := []*bonafide.Media{{Kind: bonafide.KindImage}}
	rows, err := c.PrepareMedia("f", ms)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].ID == "" || ms[0].FolderID != "f" || rows[0].Tags != "[]" || rows[0].Meta != "{}" || rows[0].Info != nil {
		t.Errorf("prepared %+v, %+v", ms[0], rows[0])
	}
	rows[0].Fill()
	if string(ms[0].MetaData) != "{}" || ms[0].Tags == nil {
		t.Errorf("after Fill: %+v", ms[0])
	}
	if _, err := c.PrepareMedia("f", []*bonafide.Media{{}}); bonafide.CodeOf(err) != bonafide.CodeInvalidValue {
		t.Errorf("media without a kind: %v", err)
	}
	f := &bonafide.Folder{TechnicalMetaData: []byte(`{"a":1}`)}
	fr, err := c.PrepareFolder(f)
	if err != nil || f.ID == "" || f.Created.IsZero() || fr.Meta != "{}" || fr.Tech != `{"a":1}` {
		t.Fatalf("PrepareFolder = %+v, %v", fr, err)
	}
	fr.Fill()
	if string(f.MetaData) != "{}" {
		t.Errorf("folder meta after Fill: %s", f.MetaData)
	}
}

func TestParseFolderFilter(t *testing.T) {
	q, err := ParseFolderFilter(bonafide.FolderFilter{ResolutionStatus: " success ", SortField: "time_updated",
		MetaEquals: map[string]string{"b": "1", "a": "2"}})
	if err != nil || q.Status != bonafide.ResolutionSuccess || !q.Verdict || !q.ByUpdated || !slices.Equal(q.MetaEquals, []string{"a", "b"}) {
		t.Fatalf("ParseFolderFilter = %+v, %v", q, err)
	}
	q, err = ParseFolderFilter(bonafide.FolderFilter{ResolutionStatus: "processing"})
	if err != nil || q.Status != bonafide.StateProcessing || q.Verdict || q.ByUpdated {
		t.Fatalf("ParseFolderFilter = %+v, %v", q, err)
	}
	for _, bad := range []bonafide.FolderFilter{{ResolutionStatus: "nope"}, {SortField: "name"}} {
		if _, err := ParseFolderFilter(bad); bonafide.CodeOf(err) != bonafide.CodeInvalidValue {
			t.Errorf("ParseFolderFilter(%+v): %v", bad, err)
		}
	}
}

func TestMigrations(t *testing.T) {
	fsys := fstest.MapFS{"m/0002_b.sql": {}, "m/0001_a.sql": {}, "m/0010_c.sql": {}}
	ms, err := Migrations(fsys, "m/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Migration{{1, "0001_a.sql"}, {2, "0002_b.sql"}, {10, "0010_c.sql"}}; !slices.Equal(ms, want) {
		t.Fatalf("Migrations = %v, want %v", ms, want)
	}
	for _, bad := range []fstest.MapFS{{"m/x.sql": {}}, {"m/0_a.sql": {}}, {"m/1_a.sql": {}, "m/01_b.sql": {}}} {
		if _, err := Migrations(bad, "m/*.sql"); err == nil {
			t.Errorf("Migrations(%v) succeeded", bad)
		}
	}
}

func TestErrors(t *testing.T) {
	if err := Wrap("st", "op", nil); err != nil {
		t.Errorf("Wrap(nil) = %v", err)
	}
	be := bonafide.NotFound("folder", "x")
	if err := Wrap("st", "op", be); err != be {
		t.Errorf("Wrap(domain error) = %v", err)
	}
	base := errors.New("boom")
	if err := Wrap("st", "op", base); err.Error() != "st: op: boom" || !errors.Is(err, base) {
		t.Errorf("Wrap = %v", err)
	}
	if e := AlreadyExists("media", "m1"); e.Code != bonafide.CodeAlreadyExist || e.Details.(map[string]string)["media_id"] != "m1" {
		t.Errorf("AlreadyExists = %+v", e)
	}
	if got := LikeEscape(`a%b_c\d`); got != `a\%b\_c\\d` {
		t.Errorf("LikeEscape = %s", got)
	}
	if got := NormEmail("  A@B.c "); got != "a@b.c" {
		t.Errorf("NormEmail = %q", got)
	}
}

func TestVectorEncoding(t *testing.T) {
	v := []float32{1, -0.5, 3.25}
	got, err := DecodeVector(EncodeVector(v))
	if err != nil || !slices.Equal(got, v) {
		t.Fatalf("round trip %v -> %v (%v)", v, got, err)
	}
	if _, err := DecodeVector([]byte{1, 2, 3}); err == nil {
		t.Fatal("3 bytes decoded")
	}
}
