package billing

import (
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	locpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/location_go_proto"
)

// This file holds the place-of-service rules: CMS codes, not clinical
// ones, so they live in Go
// (https://www.cms.gov/medicare/coding-billing/place-of-service-codes/code-sets).

// posByClass maps an Encounter.class (v3 ActCode) to the CMS place of
// service used when the Encounter's location has none. Any other class is
// an office visit (11).
var posByClass = map[string]string{
	"AMB":    "11", // ambulatory: office
	"EMER":   "23", // emergency: emergency room, hospital
	"IMP":    "21", // inpatient encounter: inpatient hospital
	"ACUTE":  "21", // inpatient acute: inpatient hospital
	"OBSENC": "22", // observation: on campus outpatient hospital
	"HH":     "12", // home health: home
	"VR":     "02", // virtual: telehealth other than in the patient's home
}

// defaultPOS is the place of service of a class posByClass lacks.
const defaultPOS = "11"

// facilityPOS are the places of service Medicare pays at the facility rate
// (the facility practice expense RVUs), per the CMS Medicare Claims
// Processing Manual, chapter 12, section 20.4.2 (site of service payment
// differential): 02 telehealth (other than home), 19 off campus outpatient
// hospital, 21 inpatient hospital, 22 on campus outpatient hospital, 23
// emergency room, 24 ambulatory surgical center, 26 military treatment
// facility, 31 skilled nursing facility, 34 hospice, 41 ambulance (land),
// 42 ambulance (air or water), 51 inpatient psychiatric facility, 52
// psychiatric facility partial hospitalization, 53 community mental health
// center, 56 psychiatric residential treatment center, 61 comprehensive
// inpatient rehabilitation facility. Every other place is non-facility.
var facilityPOS = map[string]bool{
	"02": true, "19": true, "21": true, "22": true, "23": true, "24": true,
	"26": true, "31": true, "34": true, "41": true, "42": true, "51": true,
	"52": true, "53": true, "56": true, "61": true,
}

// placeOfService returns the CMS place of service of the Encounter and
// where it came from: a Location.type coding in the CMS place-of-service
// system on Encounter.location[0], else the Encounter's class.
func placeOfService(enc *encpb.Encounter, loc *locpb.Location) (pos, source string) {
	for _, t := range loc.GetType() {
		if c := codingIn(t, SystemPOS); c != nil {
			return c.GetCode().GetValue(), "Location type"
		}
	}
	class := encounterClass(enc)
	if pos, ok := posByClass[class]; ok {
		return pos, "Encounter.class " + class
	}
	return defaultPOS, "default (office)"
}

// facility reports whether Medicare pays services at pos at the facility
// rate.
func facility(pos string) bool { return facilityPOS[pos] }

// encounterClass is the v3 ActCode of Encounter.class ("AMB"), also when
// the coding leaves its system out; "" for a code of another system.
func encounterClass(enc *encpb.Encounter) string {
	c := enc.GetClassValue()
	if s := c.GetSystem().GetValue(); s != "" && s != SystemActCode {
		return ""
	}
	return c.GetCode().GetValue()
}
