package billing

import (
	"fmt"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// HTTP statuses of the errors billing returns. billing does not import
// net/http (see doc.go), so it names the few it needs.
const (
	statusBadRequest          = 400
	statusNotFound            = 404
	statusConflict            = 409
	statusUnprocessableEntity = 422
)

// issueBusinessRule is the OperationOutcome issue type of a request that
// breaks a billing rule (https://hl7.org/fhir/R4/valueset-issue-type.html).
const issueBusinessRule resource.IssueType = "business-rule"

// notFound is a 404 on expression.
func notFound(expression, format string, args ...any) error {
	return resource.Errorf(statusNotFound, resource.IssueNotFound, expression, format, args...)
}

// unprocessable is a 422: the request is well formed but the data it
// names cannot be billed as asked.
func unprocessable(expression, format string, args ...any) error {
	return resource.Errorf(statusUnprocessableEntity, issueBusinessRule, expression, format, args...)
}

// badRequest is a 400 with issue type "invalid".
func badRequest(expression, format string, args ...any) error {
	return resource.Errorf(statusBadRequest, resource.IssueInvalid, expression, format, args...)
}

// currencyError is the 400 of an amount in another currency than the
// Invoice's. It names the resource and element, never the amount.
func currencyError(typ, id, expression, want string) error {
	return badRequest(expression,
		"%s/%s has an amount in another currency than the invoice currency %s; "+
			"an Invoice has one currency", typ, id, want)
}

// conflict is a 409 about a change of status.
func conflict(expression, format string, args ...any) error {
	return resource.Errorf(statusConflict, issueBusinessRule, expression, format, args...)
}

// readError wraps an error of Records.Read with the resource read.
func readError(typ, id string, err error) error {
	return fmt.Errorf("read %s/%s: %w", typ, id, err)
}
