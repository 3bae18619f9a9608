package pfs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing/pfs"
	"github.com/shopspring/decimal"
)

// TestSchedule_Load checks the built schedule: 109 localities (README),
// the CF every row carries ($32.3465, README "Conversion factor").
func TestSchedule_Load(t *testing.T) {
	s := testSchedule(t)
	if got := len(s.Localities()); got != 109 {
		t.Errorf("got %d localities, want 109 (README)", got)
	}
	if got := s.CF.String(); got != "32.3465" {
		t.Errorf("got CF %s, want 32.3465 (README)", got)
	}
	if _, ok := s.RVU("100", ""); !ok {
		t.Errorf("RVU(100): not found, want the 00100 row")
	}
	if _, ok := s.RVU("71046", "tc"); !ok {
		t.Errorf("RVU(71046, tc): not found, want the TC row")
	}
}

// TestSchedule_READMEChecks prices the check values of the testdata
// README ("Payment formula and check values") with national GPCIs of 1.
func TestSchedule_READMEChecks(t *testing.T) {
	s := testSchedule(t)
	tests := []struct {
		name, code, mod  string
		nonfac, facility string
	}{
		// 99213: 2.75 × 32.3465 = 88.952875; 1.97 × 32.3465 = 63.722605.
		{"99213National", "99213", "", "88.95", "63.72"},
		// 45378: 10.13 × 32.3465 = 327.670045; 5.48 × 32.3465 = 177.25882.
		{"45378National", "45378", "", "327.67", "177.26"},
		// 71046-26: 0.31 × 32.3465 = 10.027415 in both settings.
		{"71046PCNational", "71046", "26", "10.03", "10.03"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := s.RVU(tc.code, tc.mod)
			if !ok {
				t.Fatalf("RVU(%s, %s) not found", tc.code, tc.mod)
			}
			nf := pfs.Price(r, pfs.NationalGPCI(), s.CF, false)
			fa := pfs.Price(r, pfs.NationalGPCI(), s.CF, true)
			if got := nf.Amount.StringFixed(2); got != tc.nonfac {
				t.Errorf("non-facility: got %s, want %s", got, tc.nonfac)
			}
			if got := fa.Amount.StringFixed(2); got != tc.facility {
				t.Errorf("facility: got %s, want %s", got, tc.facility)
			}
		})
	}
}

// TestSchedule_PriceStatus checks the status rules on real rows (status
// letters as printed in PPRRVU25_JAN1.csv).
func TestSchedule_PriceStatus(t *testing.T) {
	s := testSchedule(t)
	tests := []struct {
		name, code string
		facility   bool
		want       string // amount, or "not payable: <reason substring>"
	}{
		{"BundledB", "99070", false, "not payable: status B"},
		{"CarrierPricedC", "0042T", false, "not payable: status C: carrier-priced"},
		{"InvalidI", "A0021", false, "not payable: status I"},
		{"ExcludedE", "J0696", false, "not payable: status E"},
		{"StatutoryX", "G0008", false, "not payable: status X"},
		{"NonCoveredN", "A0888", false, "not payable: status N"},
		{"MeasurementM", "G0029", false, "not payable: status M"},
		{"AnesthesiaJ", "00100", false, "not payable: status J"},
		{"BundledP", "A4211", false, "not payable: status P"},
		// G0245 R: (0.88 + 1 + 0.04) × 32.3465 = 62.10528 (national).
		{"RestrictedR", "G0245", false, "62.11"},
		// G0117 T: (0.45 + 1.42 + 0.02) × 32.3465 = 61.134885; facility NA.
		{"PaidAloneT", "G0117", false, "61.13"},
		{"PaidAloneTFacilityNA", "G0117", true, "not payable: the facility PE RVU is NA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := s.RVU(tc.code, "")
			if !ok {
				t.Fatalf("RVU(%s) not found", tc.code)
			}
			fee := pfs.Price(r, pfs.NationalGPCI(), s.CF, tc.facility)
			got := fee.Amount.StringFixed(2)
			if !fee.Payable {
				got = "not payable: " + fee.Reason
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q...", got, tc.want)
			}
			if !fee.Payable && !fee.Amount.IsZero() {
				t.Errorf("got amount %s on a fee that is not payable, want 0", fee.Amount)
			}
		})
	}

	unknown := pfs.RVU{Code: "X9999", Status: "Z", CF: s.CF}
	if fee := pfs.Price(unknown, pfs.NationalGPCI(), s.CF, false); fee.Payable ||
		fee.Reason != "status Z: unknown status code" {
		t.Errorf("status Z: got payable %v reason %q, want not payable, unknown",
			fee.Payable, fee.Reason)
	}

	if _, err := s.Price("99999", "", ny, false); !errors.Is(err, pfs.ErrUnknownCode) {
		t.Errorf("unknown code: got %v, want ErrUnknownCode", err)
	}
	nowhere := pfs.Locality{MAC: "1", Number: 1}
	if _, err := s.Price("99213", "", nowhere, false); !errors.Is(err, pfs.ErrUnknownLocality) {
		t.Errorf("unknown locality: got %v, want ErrUnknownLocality", err)
	}
}

// TestTrail_String checks the printed trail of 99214 in Manhattan,
// non-facility: (1.92 × 1.065 + 1.8 × 1.166 + 0.15 × 1.656) × 32.3465 =
// 142.065828 (bc), 142.07.
func TestTrail_String(t *testing.T) {
	fee, err := testSchedule(t).Price("99214", "", ny, false)
	if err != nil {
		t.Fatal(err)
	}

	want := "PFS 2025 99214 loc 13202-01 MANHATTAN non-facility: (work 1.92 × 1.065 + " +
		"PE 1.8 × 1.166 + MP 0.15 × 1.656) × CF 32.3465 = 142.065828 → 142.07"
	if got := fee.Trail.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestSchedule_LocalityFor maps states and counties to localities as
// 25LOCCO1.csv lists them.
func TestSchedule_LocalityFor(t *testing.T) {
	s := testSchedule(t)
	loc := func(mac string, n int) pfs.Locality { return pfs.Locality{MAC: mac, Number: n} }
	tests := []struct {
		name, state, county string
		want                pfs.Locality
		wantErr             error
	}{
		{"Manhattan", "NY", "New York", loc("13202", 1), nil},          // MANHATTAN,NEW YORK
		{"Brooklyn", "New York", "Kings County", loc("13202", 2), nil}, // "BRONX, KINGS, ..."
		{"Queens", "ny", "QUEENS", loc("13292", 4), nil},               // 13292,4,,QUEENS,QUEENS
		{"RestOfNewYork", "NY", "Albany", loc("13282", 99), nil},       // ALL OTHER COUNTIES
		{"LosAngeles", "CA", "Los Angeles County", loc("1182", 18), nil},
		{"OrangeTypo", "California", "Orange", loc("1182", 18), nil}, // printed ORAGNGE
		{"Marin", "CA", "marin", loc("1112", 52), nil},
		{"RestOfCalifornia", "CA", "Alpine", loc("1112", 75), nil},
		{"ArlingtonIsDC", "VA", "Arlington", loc("12202", 1), nil}, // "... IN VIRGINIA"
		{"FairfaxCityIsDC", "Virginia", "Fairfax city", loc("12202", 1), nil},
		{"RichmondIsVirginia", "VA", "Richmond city", loc("11302", 0), nil},
		{"PrinceGeorgesIsDC", "MD", "Prince George's County", loc("12202", 1), nil},
		{"BaltimoreCity", "MD", "Baltimore city", loc("12302", 1), nil},
		{"RestOfMaryland", "MD", "Garrett", loc("12302", 99), nil},
		{"DCNoCounty", "DC", "", loc("12202", 1), nil},
		{"DCByName", "District of Columbia", "District of Columbia", loc("12202", 1), nil},
		{"MiamiDade", "FL", "Miami-Dade County", loc("9102", 4), nil}, // printed DADE
		{"StLouisCity", "MO", "St. Louis city", loc("5302", 1), nil},
		{"SaintLouisCounty", "MO", "Saint Louis County", loc("5302", 1), nil},
		{"RestOfMissouri", "MO", "Boone", loc("5302", 99), nil},
		{"OrleansParish", "Louisiana", "Orleans Parish", loc("7202", 1), nil},
		{"Guam", "Guam", "", loc("1212", 1), nil}, // HAWAII/GUAM
		{"PuertoRico", "PR", "San Juan", loc("9202", 20), nil},
		{"UnknownState", "ZZ", "x", pfs.Locality{}, pfs.ErrUnknownState},
		{"NoState", "", "", pfs.Locality{}, pfs.ErrUnknownState},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LocalityFor(tc.state, tc.county)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestNewSchedule_Errors checks that inconsistent rows are refused.
func TestNewSchedule_Errors(t *testing.T) {
	cf := decimal.RequireFromString("32.3465")
	row := pfs.RVU{Code: "99213", Status: pfs.StatusActive, CF: cf}
	g := pfs.GPCI{Locality: al, State: "AL", Name: "ALABAMA"}
	county := pfs.County{Locality: al, State: "ALABAMA", Areas: []pfs.CountyArea{{All: true}}}
	other := row
	other.Code, other.CF = "99214", decimal.RequireFromString("33")

	tests := []struct {
		name     string
		rvus     []pfs.RVU
		gpcis    []pfs.GPCI
		counties []pfs.County
		wantErr  string
	}{
		{"Valid", []pfs.RVU{row}, []pfs.GPCI{g}, []pfs.County{county}, ""},
		{"DuplicateRVU", []pfs.RVU{row, row}, []pfs.GPCI{g}, nil, "repeat code 99213"},
		{"MixedCF", []pfs.RVU{row, other}, []pfs.GPCI{g}, nil, "has CF 33"},
		{"NoCF", []pfs.RVU{{Code: "1"}}, nil, nil, "no conversion factor"},
		{"DuplicateGPCI", []pfs.RVU{row}, []pfs.GPCI{g, g}, nil, "repeat locality 10112-00"},
		{"CountyWithoutGPCI", []pfs.RVU{row}, nil, []pfs.County{county}, "has no GPCI"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pfs.NewSchedule(2025, tc.rvus, tc.gpcis, tc.counties)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestSchedule_LocalityForEveryCounty resolves every county the file names,
// and every state's remaining counties, back to the row that lists them.
func TestSchedule_LocalityForEveryCounty(t *testing.T) {
	s := testSchedule(t)
	rows, err := pfs.ParseCounties(openCMS(t, countyFile))
	if err != nil {
		t.Fatal(err)
	}

	checked := 0
	for _, c := range rows {
		for _, a := range c.Areas {
			state := a.State
			if state == "" {
				state, _, _ = strings.Cut(c.State, "/")
			}
			names := a.Names
			if a.All {
				names = []string{""}
			}
			for _, n := range names {
				got, err := s.LocalityFor(state, n)
				if err != nil || got != c.Locality {
					t.Errorf("LocalityFor(%q, %q): got %s, %v; want %s", state, n, got, err, c.Locality)
				}
				checked++
			}
		}
	}
	if checked < 200 {
		t.Errorf("checked %d counties, want at least 200", checked)
	}
}
