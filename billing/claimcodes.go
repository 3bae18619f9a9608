package billing

// Code systems and identifier systems of Claims and ClaimResponses.
const (
	// SystemClaimType is the HL7 claim type code system ("professional").
	SystemClaimType = "http://terminology.hl7.org/CodeSystem/claim-type"

	// SystemPriority is the HL7 process priority code system ("normal").
	SystemPriority = "http://terminology.hl7.org/CodeSystem/processpriority"

	// SystemCareTeamRole is the HL7 claim care team role code system
	// ("primary": the rendering provider).
	SystemCareTeamRole = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"

	// SystemNPI is the identifier system of US National Provider
	// Identifiers.
	SystemNPI = "http://hl7.org/fhir/sid/us-npi"

	// SystemClaimID is the identifier system of the Claims fhirbill
	// builds; the value is the Claim's id, which is also the patient
	// control number an 837P would carry.
	SystemClaimID = "https://fhirbill.dev/fhir/sid/claim"

	// SystemInvoiceID is the identifier system tying a Claim to the
	// Invoice it was built from; the value is the Invoice's id.
	SystemInvoiceID = "https://fhirbill.dev/fhir/sid/invoice"

	// SystemClaimEdit is fhirbill's code system of claim edits, the
	// scrubber's checks (profiles/codesystems/claim-edit.json); a
	// ClaimResponse with outcome error codes each failure with it.
	SystemClaimEdit = "https://fhirbill.dev/fhir/CodeSystem/claim-edit"
)

// The claim edits (SystemClaimEdit) the scrubber runs; see [Scrub].
const (
	EditClaimType        = "claim-type"
	EditPatient          = "patient"
	EditProvider         = "provider"
	EditInsurer          = "insurer"
	EditInsurance        = "insurance"
	EditCoverage         = "coverage"
	EditNPIMissing       = "npi-missing"
	EditNPIInvalid       = "npi-invalid"
	EditDiagnosisCode    = "diagnosis-code"
	EditDiagnosisFormat  = "diagnosis-format"
	EditDiagnosisCount   = "diagnosis-count"
	EditProcedureCode    = "procedure-code"
	EditModifierFormat   = "modifier-format"
	EditModifierConflict = "modifier-conflict"
	EditPointerMissing   = "pointer-missing"
	EditPointerUnknown   = "pointer-unknown"
	EditPointerCount     = "pointer-count"
	EditRendering        = "rendering-provider"
	EditQuantity         = "quantity"
	EditServiceDate      = "service-date"
	EditPlaceOfService   = "place-of-service"
	EditAmount           = "amount"
	EditNegativeAmount   = "negative-amount"
	EditAmountPrecision  = "amount-precision"
	EditCurrency         = "currency"
	EditTotal            = "total"
)

// maxDiagnoses is how many diagnoses a professional claim carries: the
// twelve of the CMS-1500 (item 21, A to L) and of the 837P HI segment.
const maxDiagnoses = 12
