package billing

// Code systems fhirbill bills with (DESIGN.md, "Invoice semantics").
const (
	SystemCPT      = "http://www.ama-assn.org/go/cpt"
	SystemHCPCS    = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
	SystemICD10CM  = "http://hl7.org/fhir/sid/icd-10-cm"
	SystemSNOMED   = "http://snomed.info/sct"
	SystemPOS      = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
	SystemActCode  = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	SystemCopay    = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
	SystemUsage    = "http://terminology.hl7.org/CodeSystem/usage-context-type"
	SystemAdjudic  = "http://terminology.hl7.org/CodeSystem/adjudication"
	SystemDxRole   = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
	SystemPartType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
)

// SystemPriceComponent is fhirbill's code system for Invoice price
// components the HL7 adjudication code system has no code for; it defines
// "coinsurance" (profiles/codesystems/price-component.json).
const SystemPriceComponent = "https://fhirbill.dev/fhir/CodeSystem/price-component"

// The extensions fhirbill defines (profiles/structuredefinitions).
const (
	// ExtModifier is a billing modifier (CPT or HCPCS Level II, valueCoding,
	// 0..*) on a Procedure, its code, an Encounter, a ChargeItem, a
	// ChargeItemDefinition or an Invoice line.
	ExtModifier = "https://fhirbill.dev/fhir/StructureDefinition/modifier"

	// ExtPricingTrail (valueString) on a ChargeItem says how its price was
	// computed, step by step, so that a reader can redo the sum.
	ExtPricingTrail = "https://fhirbill.dev/fhir/StructureDefinition/pricing-trail"

	// ExtAllowedRule (valueCode) on a payer contract ChargeItemDefinition
	// names the payer's rule: medicare-pfs, fee-list or billed.
	ExtAllowedRule = "https://fhirbill.dev/fhir/StructureDefinition/allowed-rule"

	// ExtPFSYear (valueInteger) on a payer contract whose rule is
	// medicare-pfs names the year of the fee schedule it prices on,
	// whatever the year of service ("140 % of the 2025 Medicare fee
	// schedule"); without it, each service is priced on the schedule of
	// its own year.
	ExtPFSYear = "https://fhirbill.dev/fhir/StructureDefinition/pfs-year"

	// ExtPFSLocality (valueString "MAC-locality", e.g. "01182-18") on an
	// Organization names its Medicare payment locality.
	ExtPFSLocality = "https://fhirbill.dev/fhir/StructureDefinition/pfs-locality"

	// ExtNotBilled (valueReference, 0..*) on an Invoice names a
	// not-billable ChargeItem of its Encounter: a service billing could
	// not code or price. With the lines' ChargeItems, it makes the Invoice
	// name every ChargeItem of its billing, which billing again reads by
	// id.
	ExtNotBilled = "https://fhirbill.dev/fhir/StructureDefinition/not-billed"

	// ExtAccumulator on an Account is one billed Invoice's contribution to
	// the deductible and out-of-pocket totals of a plan year, with the
	// sub-extensions invoice (valueReference), deductible and outOfPocket
	// (valueMoney).
	ExtAccumulator = "https://fhirbill.dev/fhir/StructureDefinition/accumulator"
)

// SystemEncounterID is the identifier system tying an Invoice to the
// Encounter it bills; the value is the Encounter's id.
const SystemEncounterID = "https://fhirbill.dev/fhir/sid/encounter"

// The allowed rules of a payer contract (ExtAllowedRule).
const (
	RuleMedicarePFS = "medicare-pfs"
	RuleFeeList     = "fee-list"
	RuleBilled      = "billed"
)

// The coverage-copay-type codes read from Coverage.costToBeneficiary
// (https://hl7.org/fhir/R4/codesystem-coverage-copay-type.html).
const (
	copayDeductible = "deductible"
	copayMaxOOP     = "maxoutofpocket"
	copayPercent    = "copaypct"
	copayDefault    = "copay"
)

// visitTypes maps an Encounter.class (v3 ActCode) to the coverage-copay-type
// code of its visit copay. Other classes use the plain "copay" amount.
var visitTypes = map[string]string{
	"AMB":  "gpvisit",
	"EMER": "emergency",
	"IMP":  "inpthosp",
	"VR":   "televisit",
}
