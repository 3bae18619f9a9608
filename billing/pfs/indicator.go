package pfs

import "fmt"

// Status is the PFS status code of an RVU row (column STATUS CODE), one
// letter. It says whether Medicare pays the service under the fee schedule.
type Status string

// The status codes of the CMS relative value file.
const (
	StatusActive             Status = "A" // separately paid
	StatusBundled            Status = "B" // payment bundled into other services
	StatusCarrierPriced      Status = "C" // priced by the MAC; no national RVUs
	StatusExcluded           Status = "E" // excluded from the PFS by regulation
	StatusInvalid            Status = "I" // not valid for Medicare purposes
	StatusAnesthesia         Status = "J" // anesthesia service; no RVUs
	StatusMeasurement        Status = "M" // measurement code, for reporting only
	StatusNonCovered         Status = "N" // not covered by Medicare
	StatusBundledOrExcluded  Status = "P" // bundled or excluded
	StatusRestricted         Status = "R" // restricted coverage; paid when covered
	StatusPaidAlone          Status = "T" // paid only if no other PFS service that day
	StatusStatutoryExclusion Status = "X" // statutory exclusion
)

var statusMeanings = map[Status]string{
	StatusActive:             "active code, separately paid under the fee schedule",
	StatusBundled:            "bundled code, payment included in other services",
	StatusCarrierPriced:      "carrier-priced code, no national fee: the MAC prices it",
	StatusExcluded:           "excluded from the fee schedule by regulation",
	StatusInvalid:            "not valid for Medicare purposes",
	StatusAnesthesia:         "anesthesia service, paid on base and time units, not RVUs",
	StatusMeasurement:        "measurement code, reported for quality programs only",
	StatusNonCovered:         "non-covered service",
	StatusBundledOrExcluded:  "bundled or excluded code",
	StatusRestricted:         "restricted coverage, paid only under special circumstances",
	StatusPaidAlone:          "paid only when no other fee schedule service is paid that day",
	StatusStatutoryExclusion: "statutory exclusion, not in the fee schedule",
}

// Meaning returns the CMS meaning of s, or "unknown status code".
func (s Status) Meaning() string {
	if m, ok := statusMeanings[s]; ok {
		return m
	}

	return "unknown status code"
}

// Payable reports whether the status is one Medicare pays from national
// RVUs: A, R and T. Every other status, known or not, is not payable here.
func (s Status) Payable() bool {
	return s == StatusActive || s == StatusRestricted || s == StatusPaidAlone
}

// Indicator is a one-digit payment-policy indicator of an RVU row (PCTC IND,
// MULT PROC, BILAT SURG, ASST SURG, CO-SURG, TEAM SURG). Its meaning depends
// on the column; the CMS RVU file documentation is the authority.
type Indicator int8

// NoIndicator is the value of an indicator cell that was empty.
const NoIndicator Indicator = -1

// String returns the digit, or "none" for [NoIndicator].
func (i Indicator) String() string {
	if i == NoIndicator {
		return "none"
	}

	return fmt.Sprintf("%d", int8(i))
}

// parseIndicator reads one indicator cell: empty or a single digit.
func parseIndicator(s string) (Indicator, error) {
	switch {
	case s == "":
		return NoIndicator, nil
	case len(s) == 1 && s[0] >= '0' && s[0] <= '9':
		return Indicator(s[0] - '0'), nil
	default:
		return NoIndicator, fmt.Errorf("indicator %q is not a single digit", s)
	}
}
