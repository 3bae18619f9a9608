package billing

// ValidNPI reports whether npi is a well-formed National Provider
// Identifier: ten digits whose last is the Luhn check digit of the
// first nine prefixed with 80840, the health industry number of the
// NPI's issuer, as CMS's "Requirements for National Provider Identifier
// (NPI) and NPI Enumeration" (the check digit document) specifies.
// 1234567893 is valid: the Luhn sum of 80840123456789 is 67, so the
// check digit is 3.
func ValidNPI(npi string) bool {
	if len(npi) != 10 {
		return false
	}
	for i := 0; i < len(npi); i++ {
		if npi[i] < '0' || npi[i] > '9' {
			return false
		}
	}
	payload := "80840" + npi[:9]
	sum := 0
	// The check digit will stand right of the payload, so the payload's
	// last digit is the first one doubled.
	for i := 0; i < len(payload); i++ {
		d := int(payload[len(payload)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10-sum%10)%10 == int(npi[9]-'0')
}
