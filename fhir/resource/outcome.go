package resource

import (
	"encoding/json"
)

// outcomeJSON mirrors the R4 OperationOutcome elements fhirbill fills
// (https://hl7.org/fhir/R4/operationoutcome.html).
type outcomeJSON struct {
	ResourceType string      `json:"resourceType"`
	Issue        []issueJSON `json:"issue"`
}

type issueJSON struct {
	Severity    Severity  `json:"severity"`
	Code        IssueType `json:"code"`
	Diagnostics string    `json:"diagnostics,omitempty"`
	Expression  []string  `json:"expression,omitempty"`
}

// Outcome prints an OperationOutcome holding issues. With no issues it
// holds one informational "All OK" issue, as R4 requires at least one.
func Outcome(issues ...Issue) []byte {
	out := outcomeJSON{ResourceType: "OperationOutcome"}
	for _, is := range issues {
		out.Issue = append(out.Issue, issueJSON(is))
	}
	if len(out.Issue) == 0 {
		out.Issue = []issueJSON{{Severity: SeverityInformation, Code: IssueInformational, Diagnostics: "All OK"}}
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic("resource: marshal OperationOutcome: " + err.Error()) // plain strings cannot fail
	}
	return b
}
