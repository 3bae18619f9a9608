package main

import (
	"fmt"
	"strconv"
	"strings"
)

// The operations of `fhirbill loadgen`, in the order reports list them.
const (
	lgCreate        = "create"         // POST [base]/Invoice
	lgRead          = "read"           // GET [base]/Invoice/[id], of a seeded or created one
	lgSearchPatient = "search-patient" // GET [base]/Invoice?patient=
	lgSearchInsurer = "search-insurer" // GET [base]/Claim?insurer=
	lgBill          = "bill"           // POST [base]/Encounter/[id]/$bill of one billed before: stores nothing
	lgBillNew       = "bill-new"       // PUT [base]/Encounter/[id] finishing a visit in progress: billed as stored
)

var lgOps = [lgOpCount]string{lgCreate, lgRead, lgSearchPatient, lgSearchInsurer, lgBill, lgBillNew}

// lgOpCount is the number of operations.
const lgOpCount = 6

// defaultMix is the mix of the timed run when --mix is not given: mostly
// reads, as billing staff, apps and insurers read more than they write,
// and fresh encounters billed (bill-new), because that is the work
// fhirbill exists for; bill measures the cheaper re-billing of an unchanged one.
const defaultMix = "create=2,read=4,search-patient=2,search-insurer=1,bill-new=1"

// maxWeight bounds one weight, so that a schedule stays short.
const maxWeight = 1000

// mix is the weight of each operation, indexed like lgOps.
type mix [lgOpCount]int

// parseMix reads "name=weight,..." (weights are whole numbers; an
// operation left out or weighing 0 is not run).
func parseMix(s string) (mix, error) {
	var m mix
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		i := lgOpIndex(name)
		if !ok || i < 0 {
			return m, fmt.Errorf("--mix %q: want name=weight with a name among %s", part, strings.Join(lgOps[:], ", "))
		}
		if seen[name] {
			return m, fmt.Errorf("--mix: %s given twice", name)
		}
		seen[name] = true
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 || n > maxWeight {
			return m, fmt.Errorf("--mix %q: the weight must be a whole number from 0 to %d", part, maxWeight)
		}
		m[i] = n
	}
	if m.total() == 0 {
		return m, fmt.Errorf("--mix %q: no operation has a weight above 0", s)
	}
	return m, nil
}

func lgOpIndex(name string) int {
	for i, n := range lgOps {
		if n == name {
			return i
		}
	}
	return -1
}

func (m mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// String is the mix as --mix takes it, without the operations left out.
func (m mix) String() string {
	var parts []string
	for i, w := range m {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", lgOps[i], w))
		}
	}
	return strings.Join(parts, ",")
}

// schedule is the order operations are sent in: a cycle as long as the
// sum of the weights, in which each operation comes up weight times,
// spread evenly (smooth weighted round robin). Request n runs
// schedule[n % len(schedule)], so a run of N requests runs an exactly
// known number of each, whatever the concurrency.
func (m mix) schedule() []int {
	total := m.total()
	current := make([]int, len(m))
	out := make([]int, 0, total)
	for range total {
		best := -1
		for i, w := range m {
			if w == 0 {
				continue
			}
			current[i] += w
			if best < 0 || current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		out = append(out, best)
	}
	return out
}

// countIn is how many times operation op runs in the first n requests of
// schedule s.
func countIn(s []int, op, n int) int {
	count := 0
	for i, o := range s {
		if o == op {
			count += n / len(s)
			if i < n%len(s) {
				count++
			}
		}
	}
	return count
}
