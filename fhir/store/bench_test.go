package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
	"github.com/fhirbill/fhirbill/profiles"
)

// patientsPer is the number of Claims per patient in benchmark data, so
// that a search by patient returns about that many.
const patientsPer = 20

// cpuMeter reports, next to the time per op, the CPU time per op of the
// whole process (see cpuTime) from its start to the end of the
// benchmark: on a machine shared with other work it varies less than the
// time. Against MONGODB_URI it leaves the server out.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

// meterCPU starts a cpuMeter; call report after the loop.
func meterCPU(b *testing.B) cpuMeter {
	return cpuMeter{b: b, start: cpuTime()}
}

func (m cpuMeter) report() {
	m.b.ReportMetric(float64(cpuTime()-m.start)/float64(m.b.N), "cpu-ns/op")
}

// benchSizes returns the collection sizes to benchmark: 1k and 10k, and
// 100k when FHIRBILL_BENCH_LARGE=1.
func benchSizes() []int {
	sizes := []int{1_000, 10_000}
	if os.Getenv("FHIRBILL_BENCH_LARGE") == "1" {
		sizes = append(sizes, 100_000)
	}
	return sizes
}

// claimBody returns a Claim of 3 to 10 KB, shaped like the ones billing
// writes: a header and 6 to 28 items.
func claimBody(i int, patient string, rnd *rand.Rand) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"resourceType":"Claim","id":"claim-%07d","meta":{"versionId":"1",`+
		`"lastUpdated":"2024-03-01T10:00:00.000Z","source":"urn:ehr:%04d"},"status":"active",`+
		`"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type",`+
		`"code":"professional"}]},`+
		`"use":"claim","patient":{"reference":"Patient/%s"},"created":"2024-01-%02d",`+
		`"insurer":{"reference":"Organization/payer-%03d"},"provider":{"reference":"Organization/prov-%03d"},`+
		`"priority":{"coding":[{"code":"normal"}]},"insurance":[{"sequence":1,"focal":true,`+
		`"coverage":{"reference":"Coverage/cov-%s"}}],"diagnosis":[`,
		i, rnd.IntN(10_000), patient, 1+i%28, rnd.IntN(50), rnd.IntN(500), patient)
	for d := range 4 {
		if d > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sequence":%d,"diagnosisCodeableConcept":{"coding":[{"system":`+
			`"http://hl7.org/fhir/sid/icd-10-cm","code":"E%02d.%d"}]}}`, d+1, rnd.IntN(99), rnd.IntN(9))
	}
	b.WriteString(`],"item":[`)
	items := 6 + rnd.IntN(23)
	for k := range items {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sequence":%d,"diagnosisSequence":[1],"productOrService":{"coding":[{"system":`+
			`"http://www.ama-assn.org/go/cpt","code":"%05d","display":"Procedure %d of visit"}]},`+
			`"servicedDate":"2024-01-%02d","quantity":{"value":%d},"unitPrice":{"value":%d.%02d,`+
			`"currency":"USD"},"net":{"value":%d.%02d,"currency":"USD"},"encounter":[{"reference":`+
			`"Encounter/enc-%07d"}]}`,
			k+1, 10_000+rnd.IntN(89_999), k+1, 1+i%28, 1+rnd.IntN(3), rnd.IntN(900), rnd.IntN(100),
			rnd.IntN(2_000), rnd.IntN(100), i)
	}
	b.WriteString(`],"total":{"value":1234.56,"currency":"USD"}}`)
	return []byte(b.String())
}

// benchRecords returns Claims from..to-1 with their search values.
func benchRecords(from, to int) []*store.Record {
	rnd := rand.New(rand.NewPCG(uint64(from), 1))
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*store.Record
	for i := from; i < to; i++ {
		patient := fmt.Sprintf("p%05d", i/patientsPer)
		at := created.Add(time.Duration(i) * time.Minute)
		recs = append(recs, &store.Record{
			Type: "Claim", ID: fmt.Sprintf("claim-%07d", i), Version: 1,
			Updated: at, Body: claimBody(i, patient, rnd),
			Index: search.Index{
				"patient": refs(patient),
				"status":  tokens("active"),
				"created": dates(search.Range{Lo: at, Hi: at.Add(time.Minute)}),
			},
		})
	}
	return recs
}

// conditionRecords returns Conditions from..to-1, two per Encounter, as
// the load generator seeds them for billing, with the search values the
// registry extracts.
func conditionRecords(b *testing.B, reg *search.Registry, from, to int) []*store.Record {
	var recs []*store.Record
	for i := from; i < to; i++ {
		id, enc := fmt.Sprintf("cond-%07d", i), fmt.Sprintf("enc-%07d", i/2)
		body := fmt.Appendf(nil, `{"resourceType":"Condition","id":%q,"meta":{"versionId":"1",`+
			`"lastUpdated":"2024-03-01T10:00:00.000Z"},"subject":{"reference":"Patient/p%05d"},`+
			`"encounter":{"reference":"Encounter/%s"},"code":{"coding":[{"system":`+
			`"http://hl7.org/fhir/sid/icd-10-cm","code":"%s"}]}}`,
			id, i/patientsPer, enc, []string{"R07.9", "I10"}[i%2])
		idx, err := reg.Extract("Condition", body, "")
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, &store.Record{
			Type: "Condition", ID: id, Version: 1, Body: body, Index: idx,
			Updated: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		})
	}
	return recs
}

// benchStores loads growing amounts of Claims into one store and runs fn
// at each size.
func benchStores(b *testing.B, fn func(b *testing.B, s *store.Store, n int)) {
	benchLoad(b, "Claim", nil, func(from, to int) []*store.Record { return benchRecords(from, to) }, fn)
}

// benchLoad loads growing amounts of resources of one type, made by
// records, into one store and runs fn at each size.
func benchLoad(
	b *testing.B,
	typ string,
	params []*search.Param,
	records func(from, to int) []*store.Record,
	fn func(b *testing.B, s *store.Store, n int),
) {
	ctx := context.Background()
	s := storetest.New(b)
	if err := s.EnsureIndexes(ctx, slices.Concat(params, fixtureParams)); err != nil {
		b.Fatal(err)
	}
	loaded := 0
	for _, n := range benchSizes() {
		start := time.Now()
		for from := loaded; from < n; from += 5_000 {
			if err := s.BulkLoad(ctx, typ, records(from, min(from+5_000, n))); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("loaded %d of %s in %v", n-loaded, typ, time.Since(start).Round(time.Millisecond))
		loaded = n
		b.Run(fmt.Sprintf("N%d", n), func(b *testing.B) { fn(b, s, n) })
	}
}

func BenchmarkReadByID(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store, n int) {
		ctx := context.Background()
		rnd := rand.New(rand.NewPCG(1, 2))
		size := 0
		cpu := meterCPU(b)
		for b.Loop() {
			id := fmt.Sprintf("claim-%07d", rnd.IntN(n))
			r, err := s.Read(ctx, "Claim", id)
			if err != nil {
				b.Fatal(err)
			}
			size += len(r.Body)
		}
		cpu.report()
		b.ReportMetric(float64(size)/float64(b.N), "body-bytes/op")
	})
}

func BenchmarkSearch(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store, n int) {
		ctx := context.Background()
		rnd := rand.New(rand.NewPCG(3, 4))
		rows := 0
		cpu := meterCPU(b)
		for b.Loop() {
			patient := fmt.Sprintf("Patient/p%05d", rnd.IntN(n/patientsPer))
			recs, _, err := s.Search(ctx, q(keys(pPatient, "", patient)))
			if err != nil {
				b.Fatal(err)
			}
			rows += len(recs)
		}
		cpu.report()
		b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
	})
}

// BenchmarkSearchConditions measures the search $bill makes for the
// diagnoses of an Encounter: Condition?encounter=, 2 rows.
func BenchmarkSearchConditions(b *testing.B) {
	reg, err := search.Load(profiles.SearchParameters)
	if err != nil {
		b.Fatal(err)
	}
	pEncounter := reg.Lookup("Condition", "encounter")
	records := func(from, to int) []*store.Record { return conditionRecords(b, reg, from, to) }
	benchLoad(b, "Condition", reg.Params("Condition"), records, func(b *testing.B, s *store.Store, n int) {
		ctx := context.Background()
		rnd := rand.New(rand.NewPCG(7, 8))
		rows := 0
		cpu := meterCPU(b)
		for b.Loop() {
			enc := fmt.Sprintf("Encounter/enc-%07d", rnd.IntN(n/2))
			query := &search.Query{Type: "Condition", Clauses: []search.Clause{keys(pEncounter, "", enc)}, Count: 50}
			recs, _, err := s.Search(ctx, query)
			if err != nil {
				b.Fatal(err)
			}
			rows += len(recs)
		}
		cpu.report()
		b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
	})
}

// BenchmarkPut measures a create and an update of one Claim, each a
// Put, in a store holding 1,000 Claims: writes look up by _id only, so
// the size of the store matters little.
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	s := storetest.New(b)
	if err := s.EnsureIndexes(ctx, fixtureParams); err != nil {
		b.Fatal(err)
	}
	const loaded = 1_000
	if err := s.BulkLoad(ctx, "Claim", benchRecords(0, loaded)); err != nil {
		b.Fatal(err)
	}
	next := loaded

	b.Run("Create", func(b *testing.B) {
		cpu := meterCPU(b)
		for b.Loop() {
			r := benchRecords(next, next+1)[0]
			next++
			if err := s.Put(ctx, store.Write{Record: r}); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report()
	})
	b.Run("Update", func(b *testing.B) {
		versions := map[int]int64{}
		rnd := rand.New(rand.NewPCG(5, 6))
		cpu := meterCPU(b)
		for b.Loop() {
			i := rnd.IntN(loaded)
			r := benchRecords(i, i+1)[0]
			prev := versions[i] + 1
			r.Version = prev + 1
			if err := s.Put(ctx, store.Write{Record: r, Prev: prev}); err != nil {
				b.Fatal(err)
			}
			versions[i] = prev
		}
		cpu.report()
	})
}

// BenchmarkOpenClose measures starting and stopping an embedded store,
// which storetest does once per test.
func BenchmarkOpenClose(b *testing.B) {
	if os.Getenv(storetest.URIEnv) != "" {
		b.Skip("measures the embedded store")
	}
	ctx := context.Background()
	dir := b.TempDir()
	for b.Loop() {
		s, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Read(ctx, "Claim", "x"); !errors.Is(err, resource.ErrNotFound) {
			b.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
