package media

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// probeOutput is the part of `ffprobe -of json -show_streams -show_format` that we read.
type probeOutput struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

type probeStream struct {
	Index          int               `json:"index"`
	CodecName      string            `json:"codec_name"`
	CodecType      string            `json:"codec_type"`
	CodecTagString string            `json:"codec_tag_string"`
	Width          int               `json:"width"`
	Height         int               `json:"height"`
	RFrameRate     string            `json:"r_frame_rate"`
	AvgFrameRate   string            `json:"avg_frame_rate"`
	NbFrames       string            `json:"nb_frames"`
	Duration       string            `json:"duration"`
	Tags           map[string]string `json:"tags"`
	Disposition    map[string]int    `json:"disposition"`
	SideDataList   []struct {
		SideDataType string  `json:"side_data_type"`
		Rotation     float64 `json:"rotation"`
	} `json:"side_data_list"`
}

// videoStream is what the engine needs to know about the video stream that will be decoded.
type videoStream struct {
	index    int     // absolute stream index, for -map 0:<index>
	codec    string  // ffprobe's codec_name
	width    int     // display size: after rotation, before MaxFrameSide
	height   int     //
	rotation int     // clockwise degrees to display: 0, 90, 180, 270
	duration float64 // seconds; 0 if unknown
	fps      float64 // 0 if unknown
	frames   int     // frame count, exact (nb_frames) or estimated; 0 if unknown
}

// setStoredSize sets the display size from the size of the stored pictures, turned by rotation.
func (vs *videoStream) setStoredSize(w, h int) {
	vs.width, vs.height = w, h
	if vs.rotation == 90 || vs.rotation == 270 {
		vs.width, vs.height = h, w
	}
}

// probeProblem is a reason to refuse a video found in ffprobe's output; the caller adds the file name.
type probeProblem struct {
	code Code
	msg  string
}

// asError is the problem as the *Error for the file.
func (p *probeProblem) asError(file string) *Error {
	return newError(p.code, file, nil, "%s", p.msg)
}

// parseProbe reads ffprobe's JSON and picks the stream to decode: the first video stream that is not
// an attached picture (cover art). It checks no limits. decodable, if not nil, says whether ffmpeg has
// a decoder for a codec name.
func parseProbe(out []byte, decodable func(string) bool) (videoStream, *probeProblem, error) {
	var po probeOutput
	if err := json.Unmarshal(out, &po); err != nil {
		return videoStream{}, nil, fmt.Errorf("reading ffprobe output: %w", err)
	}
	var st *probeStream
	var others []string
	for i := range po.Streams {
		s := &po.Streams[i]
		if s.CodecType == "video" && s.Disposition["attached_pic"] == 0 {
			st = s
			break
		}
		if s.CodecType != "" {
			others = append(others, s.CodecType)
		}
	}
	if st == nil {
		if len(po.Streams) == 0 {
			if d := parseSeconds(po.Format.Duration); d <= 0 {
				return videoStream{}, &probeProblem{CodeZeroLength, "the video is empty: it has no streams and no duration"}, nil
			}
			return videoStream{}, &probeProblem{CodeNoVideoStream, "the file has no video stream"}, nil
		}
		return videoStream{}, &probeProblem{CodeNoVideoStream,
			fmt.Sprintf("the file has no video stream (it has only %s)", describeStreamTypes(others))}, nil
	}
	vs := videoStream{index: st.Index, codec: st.CodecName}
	if vs.codec == "" || vs.codec == "none" || vs.codec == "unknown" {
		tag := strings.TrimSpace(st.CodecTagString)
		if tag == "" || strings.HasPrefix(tag, "[") {
			return vs, &probeProblem{CodeUnsupportedCodec, "the video codec is not one ffmpeg knows"}, nil
		}
		return vs, &probeProblem{CodeUnsupportedCodec, fmt.Sprintf("the video codec %q is not one ffmpeg knows", tag)}, nil
	}
	if problem := checkDecodable(vs.codec, decodable); problem != nil {
		return vs, problem, nil
	}
	if st.Width <= 0 || st.Height <= 0 {
		return vs, &probeProblem{CodeCorrupt, "the video stream has no picture size"}, nil
	}
	vs.rotation = streamRotation(st)
	vs.setStoredSize(st.Width, st.Height)
	vs.duration = parseSeconds(st.Duration)
	if vs.duration <= 0 {
		vs.duration = parseSeconds(po.Format.Duration)
	}
	vs.fps = parseRate(st.AvgFrameRate)
	if vs.fps <= 0 || vs.fps >= 1000 {
		vs.fps = parseRate(st.RFrameRate)
	}
	if vs.fps >= 1000 { // a timebase (1000/1 in Matroska), not a frame rate
		vs.fps = 0
	}
	if n, err := strconv.Atoi(st.NbFrames); err == nil && n > 0 {
		vs.frames = n
	} else if vs.duration > 0 && vs.fps > 0 {
		vs.frames = int(math.Max(1, math.Min(math.Round(vs.duration*vs.fps), math.MaxInt32)))
	}
	return vs, nil, nil
}

// checkDecodable refuses a codec that this ffmpeg cannot decode; decodable nil accepts every codec.
func checkDecodable(codec string, decodable func(string) bool) *probeProblem {
	if decodable != nil && !decodable(codec) {
		return &probeProblem{CodeUnsupportedCodec, fmt.Sprintf("this ffmpeg cannot decode the %s video codec", codec)}
	}
	return nil
}

// streamRotation returns the clockwise rotation, in degrees (0, 90, 180, 270), that turns the stored
// pictures upright. ffprobe reports the display matrix's angle counter-clockwise ("rotation": -90 for
// a phone held upright); older versions gave a clockwise "rotate" tag instead.
func streamRotation(st *probeStream) int {
	for _, sd := range st.SideDataList {
		if sd.SideDataType == "Display Matrix" {
			return normalizeDegrees(-sd.Rotation)
		}
	}
	if r, err := strconv.ParseFloat(st.Tags["rotate"], 64); err == nil {
		return normalizeDegrees(r)
	}
	return 0
}

// normalizeDegrees rounds an angle to a multiple of 90 in [0, 360).
func normalizeDegrees(d float64) int {
	if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) > 1e6 {
		return 0
	}
	r := int(math.Round(d/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

func describeStreamTypes(types []string) string {
	seen := map[string]bool{}
	var uniq []string
	for _, t := range types {
		if !seen[t] {
			seen[t] = true
			uniq = append(uniq, t)
		}
	}
	if len(uniq) == 0 {
		return "streams of unknown type"
	}
	return strings.Join(uniq, " and ")
}

// parseSeconds parses ffprobe's decimal seconds ("12.345000"); "N/A", "", negative and non-finite values
// give 0.
func parseSeconds(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// parseRate parses a rational frame rate ("30000/1001"); invalid or zero gives 0.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return parseSeconds(s)
	}
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	if err1 != nil || err2 != nil || d == 0 {
		return 0
	}
	r := n / d
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		return 0
	}
	return r
}

// parseCodecs reads `ffprobe -codecs` and returns the names of the video codecs it can decode.
func parseCodecs(out []byte) map[string]bool {
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	started := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !started {
			started = strings.HasPrefix(line, "-------")
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || len(fields[0]) < 3 {
			continue
		}
		if flags := fields[0]; flags[0] == 'D' && flags[2] == 'V' {
			set[fields[1]] = true
		}
	}
	return set
}

// packetSpan summarises the packets of one stream, for files whose header gives no duration: the count
// is the number of frames and the span of their timestamps is the duration.
type packetSpan struct {
	count      int
	timed      bool // start and end hold at least one timestamp
	start, end float64
}

// add records one line of `ffprobe -show_entries packet=pts_time,duration_time -of csv=p=0`.
func (p *packetSpan) add(line string) {
	ptsStr, durStr, _ := strings.Cut(strings.TrimSpace(line), ",")
	if ptsStr == "" {
		return
	}
	p.count++
	pts, err := strconv.ParseFloat(ptsStr, 64)
	if err != nil || math.IsNaN(pts) || math.IsInf(pts, 0) {
		return
	}
	end := pts + parseSeconds(durStr)
	if !p.timed {
		p.start, p.end, p.timed = pts, end, true
		return
	}
	p.start = min(p.start, pts)
	p.end = max(p.end, end)
}

func (p *packetSpan) duration() float64 {
	if !p.timed || p.end <= p.start {
		return 0
	}
	return p.end - p.start
}
