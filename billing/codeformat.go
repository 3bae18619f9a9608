package billing

import "regexp"

// The lexical forms of the codes a professional claim carries. They say
// whether a code can be one, not whether it exists: fhirbill has no
// ICD-10-CM or CPT code list (../shared/testdata has none either).
var (
	// icd10cmForm: a letter, a digit, a letter or digit (C4A, Z3A), then
	// optionally a dot and one to four letters or digits (the X
	// placeholder included), as ICD-10-CM codes are written in FHIR
	// (http://hl7.org/fhir/sid/icd-10-cm: with the dot, "R07.9").
	icd10cmForm = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$`)

	// cptForm: five digits (category I), or four digits and F
	// (category II), T (category III) or U (proprietary laboratory
	// analyses).
	cptForm = regexp.MustCompile(`^[0-9]{4}[0-9FTU]$`)

	// hcpcsForm: HCPCS Level II, a letter and four digits (G0439, J1100).
	hcpcsForm = regexp.MustCompile(`^[A-Z][0-9]{4}$`)

	// modifierForm: CPT and HCPCS modifiers are two letters or digits
	// (25, 59, TC, LT).
	modifierForm = regexp.MustCompile(`^[0-9A-Z]{2}$`)
)

// ValidICD10CM reports whether code has the form of an ICD-10-CM code.
func ValidICD10CM(code string) bool { return icd10cmForm.MatchString(code) }

// ValidCPT reports whether code has the form of a CPT code.
func ValidCPT(code string) bool { return cptForm.MatchString(code) }

// ValidHCPCS reports whether code has the form of a HCPCS Level II code.
func ValidHCPCS(code string) bool { return hcpcsForm.MatchString(code) }
