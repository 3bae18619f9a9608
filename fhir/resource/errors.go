package resource

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every store and the REST layer. Wrap them with
// %w and a context naming the resource type and id, never resource values.
var (
	// ErrNotFound: no resource (or version) with that id exists.
	ErrNotFound = errors.New("resource not found")
	// ErrDeleted: the resource existed and its current version is a delete.
	ErrDeleted = errors.New("resource deleted")
	// ErrConflict: the version a write was based on is no longer current,
	// or a create found the id taken.
	ErrConflict = errors.New("version conflict")
)

// IssueType is an OperationOutcome issue code
// (https://hl7.org/fhir/R4/valueset-issue-type.html).
type IssueType string

// The issue types fhirbill reports.
const (
	IssueInvalid       IssueType = "invalid"
	IssueStructure     IssueType = "structure"
	IssueRequired      IssueType = "required"
	IssueValue         IssueType = "value"
	IssueCodeInvalid   IssueType = "code-invalid"
	IssueInvariant     IssueType = "invariant"
	IssueNotSupported  IssueType = "not-supported"
	IssueNotFound      IssueType = "not-found"
	IssueDeleted       IssueType = "deleted"
	IssueConflict      IssueType = "conflict"
	IssueDuplicate     IssueType = "duplicate"
	IssueMultipleMatch IssueType = "multiple-matches"
	IssueTooLong       IssueType = "too-long"
	IssueTooCostly     IssueType = "too-costly"
	IssueProcessing    IssueType = "processing"
	IssueException     IssueType = "exception"
	IssueInformational IssueType = "informational"
	IssueSecurity      IssueType = "security"
	IssueLogin         IssueType = "login"
	IssueForbidden     IssueType = "forbidden"
)

// Severity is an OperationOutcome issue severity.
type Severity string

// The severities.
const (
	SeverityFatal       Severity = "fatal"
	SeverityError       Severity = "error"
	SeverityWarning     Severity = "warning"
	SeverityInformation Severity = "information"
)

// Issue is one OperationOutcome issue.
type Issue struct {
	Severity Severity
	Code     IssueType
	// Diagnostics is written for the client. It never holds values taken
	// from a resource or a token.
	Diagnostics string
	// Expression names the elements concerned (FHIRPath, e.g. "Claim.total").
	Expression []string
}

// Error is a problem the client caused. It carries the HTTP status and the
// OperationOutcome issues the REST layer answers with.
type Error struct {
	Status int
	Issues []Issue
	// Err is an optional cause, for errors.Is; it is never shown to clients.
	Err error
}

// Errorf returns an Error with one issue of severity error.
func Errorf(status int, code IssueType, expression string, format string, args ...any) *Error {
	is := Issue{Severity: SeverityError, Code: code, Diagnostics: fmt.Sprintf(format, args...)}
	if expression != "" {
		is.Expression = []string{expression}
	}
	return &Error{Status: status, Issues: []Issue{is}}
}

func (e *Error) Error() string {
	if len(e.Issues) == 0 {
		return fmt.Sprintf("status %d", e.Status)
	}
	return fmt.Sprintf("status %d: %s", e.Status, e.Issues[0].Diagnostics)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
