package media

// The picture size that an H.264 or HEVC decoder reports is the one its sequence parameter set (SPS)
// gives after cropping, not the one the container writes beside it. The MP4 header reader
// (mp4.go) takes the container's size only where the SPS agrees with it; these functions read
// the SPS far enough to know the cropped size, as FFmpeg 5.1's decoders compute it
// (libavcodec/h264_ps.c, hevc_ps.c).

import "errors"

var errBits = errors.New("parameter set cut short or out of range")

// unescapeRBSP removes the emulation prevention bytes (00 00 03 -> 00 00) of a NAL unit.
func unescapeRBSP(nal []byte) []byte {
	out := make([]byte, 0, len(nal))
	zeros := 0
	for _, b := range nal {
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, b)
	}
	return out
}

// bitReader reads big-endian bits and Exp-Golomb codes; reading past the end sets err.
type bitReader struct {
	b   []byte
	pos int // in bits
	err error
}

func (r *bitReader) u(n int) uint64 {
	if r.err != nil {
		return 0
	}
	if n < 0 || n > 64 || r.pos+n > 8*len(r.b) {
		r.err = errBits
		return 0
	}
	var v uint64
	for range n {
		bit := r.b[r.pos>>3] >> (7 - r.pos&7) & 1
		v = v<<1 | uint64(bit)
		r.pos++
	}
	return v
}

func (r *bitReader) flag() bool { return r.u(1) == 1 }

// ue reads an unsigned Exp-Golomb code of at most 32 leading zeros.
func (r *bitReader) ue() uint64 {
	zeros := 0
	for r.err == nil && r.u(1) == 0 {
		zeros++
		if zeros > 32 {
			r.err = errBits
		}
	}
	if r.err != nil {
		return 0
	}
	return 1<<zeros - 1 + r.u(zeros)
}

func (r *bitReader) se() int64 {
	v := r.ue()
	if v&1 == 1 {
		return int64(v+1) / 2
	}
	return -int64(v / 2)
}

// h264Size returns the cropped picture size of an H.264 SPS NAL unit (header byte included).
func h264Size(nal []byte) (w, h int, err error) {
	if len(nal) < 4 || nal[0]&0x1F != 7 {
		return 0, 0, errors.New("not an H.264 SPS")
	}
	r := &bitReader{b: unescapeRBSP(nal[1:])}
	profile := r.u(8)
	r.u(16)           // constraint flags, reserved bits, level_idc
	if r.ue() >= 32 { // seq_parameter_set_id
		return 0, 0, errors.New("SPS id out of range")
	}
	chroma := uint64(1)
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 144:
		chroma = r.ue()
		if chroma > 3 {
			return 0, 0, errors.New("chroma_format_idc out of range")
		}
		if chroma == 3 && r.flag() {
			return 0, 0, errors.New("separate colour planes") // FFmpeg refuses them
		}
		r.ue()        // bit_depth_luma_minus8
		r.ue()        // bit_depth_chroma_minus8
		r.flag()      // qpprime_y_zero_transform_bypass_flag
		if r.flag() { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if !r.flag() {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				last, next := int64(8), int64(8)
				for range size {
					if next != 0 {
						v := r.se()
						if v < -128 || v > 127 {
							return 0, 0, errors.New("scaling list delta out of range")
						}
						next = (last + v + 256) % 256
					}
					if next != 0 {
						last = next
					}
				}
			}
		}
	}
	if r.ue() > 12 { // log2_max_frame_num_minus4
		return 0, 0, errors.New("log2_max_frame_num out of range")
	}
	switch r.ue() { // pic_order_cnt_type
	case 0:
		if r.ue() > 12 {
			return 0, 0, errors.New("log2_max_poc_lsb out of range")
		}
	case 1:
		r.flag()
		r.se()
		r.se()
		n := r.ue()
		if n >= 256 {
			return 0, 0, errors.New("poc cycle too long")
		}
		for range n {
			r.se()
		}
	case 2:
	default:
		return 0, 0, errors.New("pic_order_cnt_type out of range")
	}
	r.ue()   // max_num_ref_frames
	r.flag() // gaps_in_frame_num_value_allowed_flag
	mbW := r.ue() + 1
	mbH := r.ue() + 1
	frameMBsOnly := r.flag()
	if !frameMBsOnly {
		r.flag() // mb_adaptive_frame_field_flag
		mbH *= 2
	}
	r.flag() // direct_8x8_inference_flag
	var cl, cr, ct, cb uint64
	if r.flag() {
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return 0, 0, r.err
	}
	if mbW > 1<<16 || mbH > 1<<16 {
		return 0, 0, errors.New("picture too large")
	}
	width, height := 16*mbW, 16*mbH
	stepX, stepY := uint64(1), uint64(1)
	if chroma == 1 || chroma == 2 {
		stepX = 2
	}
	if chroma == 1 {
		stepY = 2
	}
	if !frameMBsOnly {
		stepY *= 2
	}
	if cl > 1<<20 || cr > 1<<20 || ct > 1<<20 || cb > 1<<20 ||
		(cl+cr)*stepX >= width || (ct+cb)*stepY >= height {
		return 0, 0, errors.New("crop values invalid")
	}
	return int(width - (cl+cr)*stepX), int(height - (ct+cb)*stepY), nil
}

// hevcSize returns the size of an HEVC SPS NAL unit (two header bytes included) after its
// conformance window.
func hevcSize(nal []byte) (w, h int, err error) {
	if len(nal) < 4 || nal[0]>>1&0x3F != 33 {
		return 0, 0, errors.New("not an HEVC SPS")
	}
	r := &bitReader{b: unescapeRBSP(nal[2:])}
	r.u(4)                   // sps_video_parameter_set_id
	subLayers := int(r.u(3)) // sps_max_sub_layers_minus1
	if subLayers > 6 {
		return 0, 0, errors.New("too many sub-layers")
	}
	r.flag() // sps_temporal_id_nesting_flag
	// profile_tier_level(1, subLayers): general profile (88 bits) and level (8 bits).
	r.u(64)
	r.u(32)
	profilePresent := make([]bool, subLayers)
	levelPresent := make([]bool, subLayers)
	for i := range subLayers {
		profilePresent[i] = r.flag()
		levelPresent[i] = r.flag()
	}
	if subLayers > 0 {
		for i := subLayers; i < 8; i++ {
			r.u(2)
		}
	}
	for i := range subLayers {
		if profilePresent[i] {
			r.u(64)
			r.u(24)
		}
		if levelPresent[i] {
			r.u(8)
		}
	}
	if r.ue() >= 16 { // sps_seq_parameter_set_id
		return 0, 0, errors.New("SPS id out of range")
	}
	chroma := r.ue()
	if chroma > 3 {
		return 0, 0, errors.New("chroma_format_idc out of range")
	}
	if chroma == 3 && r.flag() { // separate_colour_plane_flag
		chroma = 0
	}
	width, height := r.ue(), r.ue()
	var cl, cr, ct, cb uint64
	if r.flag() { // conformance_window_flag
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return 0, 0, r.err
	}
	if width == 0 || height == 0 || width > 1<<16 || height > 1<<16 {
		return 0, 0, errors.New("picture size out of range")
	}
	subW, subH := uint64(1), uint64(1)
	if chroma == 1 || chroma == 2 {
		subW = 2
	}
	if chroma == 1 {
		subH = 2
	}
	if cl > 1<<20 || cr > 1<<20 || ct > 1<<20 || cb > 1<<20 ||
		(cl+cr)*subW >= width || (ct+cb)*subH >= height {
		// FFmpeg then shows the whole surface, with a warning; too odd to follow.
		return 0, 0, errors.New("conformance window invalid")
	}
	return int(width - (cl+cr)*subW), int(height - (ct+cb)*subH), nil
}
