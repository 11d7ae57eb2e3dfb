package api

import (
	"bonafide"
	"bonafide/media/sniff"
)

// mediaKinds are the domain's media kinds of the kinds package sniff tells.
var mediaKinds = map[sniff.Kind]bonafide.MediaKind{
	sniff.Image:   bonafide.KindImage,
	sniff.Video:   bonafide.KindVideo,
	sniff.ShotSet: bonafide.KindShotSet,
}

// sniffUpload says what an uploaded file is by its first bytes, with the rule the decoder opens it
// by (package sniff): the kind and short format name ("jpeg", "mp4", "zip", ...) of a media
// Bonafide accepts (kind "" otherwise), and a phrase for messages ("a JPEG image", ...).
func sniffUpload(head []byte) (kind bonafide.MediaKind, format, what string) {
	r := sniff.Sniff(head)
	return mediaKinds[r.Kind], r.Format, r.What
}
