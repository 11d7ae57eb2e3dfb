package bonafide

import (
	"errors"
	"fmt"
)

// Code is an Oz API error code (oz-api.md §1.6).
type Code int

// The Oz error codes.
const (
	CodeUnknown          Code = 0
	CodeNotAllowed       Code = 1
	CodeNotRealized      Code = 2
	CodeInvalidStructure Code = 3
	CodeInvalidValue     Code = 4
	CodeInvalidType      Code = 5
	CodeAuthNotProvided  Code = 6
	CodeAuthInvalid      Code = 7
	CodeAuthExpired      Code = 8
	CodeForbidden        Code = 9
	CodeNotExist         Code = 10
	CodeExternalService  Code = 11
	CodeDatabase         Code = 12
	CodeAlreadyExist     Code = 13
	CodeBodyTooBig       Code = 14
	CodeCredentialsBad   Code = 15
	CodeThrottled        Code = 101
	CodeHumanFriendly    Code = 202
	CodeUserBlocked      Code = 211
	// CodeGone is Bonafide's own (Oz has none): the object was deleted by the data retention
	// policy and is gone for good (HTTP 410); the message says when and why.
	CodeGone Code = 410
)

// ErrAlreadyFinished is what Store.FinishAnalysis returns for an analysis that is no longer
// PROCESSING: the first finish wins, so a job run a second time (rescued from a node thought dead)
// never stores a second, different result, and never sends a second webhook.
var ErrAlreadyFinished = errors.New("the analysis was already finished")

// Error is the one error type that reaches API clients. Internal errors (anything that is not an
// *Error) reach clients only as CodeUnknown with a generic message.
type Error struct {
	Code    Code
	Message string
	Details any
	Err     error // the cause, for logs; never sent to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound names the missing object.
func NotFound(kind, id string) *Error {
	return &Error{Code: CodeNotExist, Message: fmt.Sprintf("%s %s does not exist", kind, id), Details: map[string]string{kind + "_id": id}}
}

// CodeOf returns the Oz code of err (CodeUnknown for internal errors).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeUnknown
}

// InvalidValue is code 4 for one field: the message starts as lamb's ("Invalid param value: ")
// and says what is wrong, and the details name the field (key_path), as Oz does.
func InvalidValue(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidValue, Message: "Invalid param value: " + fmt.Sprintf(format, args...),
		Details: map[string]string{"key_path": field}}
}

// InvalidType is code 5 for one field of the wrong type.
func InvalidType(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidType, Message: "Invalid param type: " + fmt.Sprintf(format, args...),
		Details: map[string]string{"key_path": field}}
}

// MissingField is code 3 for a required field that is absent, in lamb's words; why, when given,
// follows them.
func MissingField(field, why string) *Error {
	msg := fmt.Sprintf("Could not locate field for key_path %s from provided dict data", field)
	if why != "" {
		msg += ": " + why
	}
	return &Error{Code: CodeInvalidStructure, Message: msg, Details: map[string]string{"key_path": field}}
}
