package media

import (
	"context"
	"errors"
	"fmt"
	"time"

	"bonafide"
)

// Code classifies why a media could not be used (bonafide.MediaCode). The codes are stable: the
// API layer maps them to client-facing error codes and messages.
type Code = bonafide.MediaCode

// Error codes returned in *Error.
const (
	CodeEmpty            Code = "EMPTY_FILE"
	CodeUnsupported      Code = "UNSUPPORTED_FORMAT"
	CodeCorrupt          Code = "CORRUPT_MEDIA"
	CodeTooLarge         Code = "FILE_TOO_LARGE"
	CodeTooManyPixels    Code = "IMAGE_TOO_LARGE"
	CodeNoVideoStream    Code = "NO_VIDEO_STREAM"
	CodeTooLong          Code = "VIDEO_TOO_LONG"
	CodeZeroLength       Code = "EMPTY_VIDEO"
	CodeUnsafeZip        Code = "UNSAFE_ZIP"
	CodeNoFrames         Code = "NO_FRAMES"
	CodeUnsupportedCodec Code = "UNSUPPORTED_CODEC"
	CodeTimeout          Code = "DECODE_TIMEOUT"
	CodeDecoderMissing   Code = "DECODER_MISSING"
)

// Error is the domain's one error type for a bad media (bonafide.MediaError): this package returns
// it for problems with a media (as opposed to a cancelled context or a programming error), with
// Media nil. Msg is written for a person: it says what is wrong with the file, in words, and File
// names the file as the caller named it; its text is "<file>: <msg>: <cause>".
type Error = bonafide.MediaError

func newError(code Code, file string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, File: file, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// errTimeout is the cancellation cause of the context that bounds one media's decoding by
// Limits.Timeout; it lets us tell our own deadline from a caller's cancellation.
var errTimeout = errors.New("media decode time limit reached")

// withTimeout bounds ctx by d (if d > 0) with errTimeout as the cause.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, errTimeout)
}

// ctxError converts the end of ctx into an error: our own time limit becomes CodeTimeout; a caller's
// cancellation or deadline is returned as is (wrapped), since it says nothing about the media.
func ctxError(ctx context.Context, file string, limit time.Duration) error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return newError(CodeTimeout, file, nil, "decoding took longer than the %s allowed", limit)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, context.Cause(ctx))
	}
	return nil
}
