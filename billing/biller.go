package billing

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// Config configures a [Biller].
type Config struct {
	// Records is where billing reads the clinical record and stores what
	// it computes. Required.
	Records Records

	// FeeSchedules gives the Medicare Physician Fee Schedule of a year.
	// Without it, lines a payer prices on the fee schedule are not
	// billable.
	FeeSchedules FeeSchedules

	// Now is the clock that dates Invoices and ChargeItems; time.Now when
	// nil.
	Now func() time.Time

	// Currency is the ISO 4217 code of every amount billed; "USD" when
	// empty.
	Currency string

	// Logger receives ids and counts, never codes, names or amounts; no
	// logging when nil.
	Logger *slog.Logger
}

// Biller bills finished Encounters: charge capture, pricing, cost sharing
// and Invoice assembly, stored through [Records]. It is safe for
// concurrent use.
type Biller struct {
	records   Records
	schedules FeeSchedules
	now       func() time.Time
	currency  string
	log       *slog.Logger
}

// NewBiller returns a Biller. It panics when cfg.Records is nil, a wiring
// error found at start-up.
func NewBiller(cfg Config) *Biller {
	if cfg.Records == nil {
		panic("billing: NewBiller needs Records")
	}
	b := &Biller{
		records:   cfg.Records,
		schedules: cfg.FeeSchedules,
		now:       cfg.Now,
		currency:  cfg.Currency,
		log:       cfg.Logger,
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.currency == "" {
		b.currency = "USD"
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b
}

// Result is what [Biller.Bill] computed and stored.
type Result struct {
	// Invoice is the Encounter's Invoice as stored.
	Invoice *resource.Resource

	// ChargeItems are the Encounter's ChargeItems, billable and not, in
	// line order.
	ChargeItems []*resource.Resource

	// NotBilled lists the services kept as not-billable ChargeItems.
	NotBilled []Unbilled

	// Notes are informational remarks for the client (a diagnosis that
	// could not be coded, an Invoice left unchanged because it was
	// issued), for the OperationOutcome of $bill.
	Notes []resource.Issue

	// Changed is false when nothing was stored: the inputs gave exactly
	// the resources already stored, or the Invoice was no longer a draft.
	Changed bool
}

// Unbilled is a service that could not be coded or priced.
type Unbilled struct {
	ChargeItemID string
	Code         string // the code as captured, "system|code"
	Reason       string
}

// Bill bills the finished Encounter encounterID: it reads the Encounter
// and what points at it, builds ChargeItems and one Invoice for the
// patient, and stores them, with the plan year's accumulator Account, in
// one [Records.Commit]. See doc.go for the rules.
//
// Billing is idempotent: the same inputs give byte-identical resources and
// store nothing. A draft Invoice is updated in place; an issued or
// balanced one is returned unchanged with a note; a cancelled one is
// followed by a new revision. When another writer changes a resource read
// meanwhile (two encounters of one plan year billed at once), Bill computes
// everything again, with growing random pauses, for up to 10 s; after
// that it is a 409.
//
// Client errors are *resource.Error: 404 when the Encounter does not
// exist, 422 when it is not finished or lacks what billing needs, 400 when
// an amount is in another currency than the configured one.
func (b *Biller) Bill(ctx context.Context, encounterID string) (*Result, error) {
	if !resource.ValidID(encounterID) {
		return nil, badRequest("Encounter.id", "the Encounter id is not a valid FHIR id")
	}
	res, attempts, err := retryConflicts(ctx, func() (*Result, error) {
		return b.billOnce(ctx, encounterID)
	})
	if errors.Is(err, resource.ErrConflict) {
		b.log.DebugContext(ctx, "billing kept losing races",
			slog.String("encounter_id", encounterID), slog.Int("attempts", attempts))
		return nil, &resource.Error{Status: statusConflict, Err: err, Issues: []resource.Issue{{
			Severity: resource.SeverityError, Code: resource.IssueConflict,
			Expression:  []string{"Encounter"},
			Diagnostics: "the billing inputs of this Encounter kept changing while it was billed; try again",
		}}}
	}
	if err != nil {
		return nil, err
	}
	b.log.InfoContext(ctx, "encounter billed",
		slog.String("encounter_id", encounterID),
		slog.String("invoice_id", res.Invoice.ID()),
		slog.Int("line_count", len(res.ChargeItems)-len(res.NotBilled)),
		slog.Int("not_billed_count", len(res.NotBilled)),
		slog.Bool("changed", res.Changed),
		slog.Int("attempts", attempts))
	return res, nil
}

// billOnce runs one attempt of Bill over one snapshot of the inputs.
func (b *Biller) billOnce(ctx context.Context, encID string) (*Result, error) {
	in, err := b.load(ctx, encID)
	if err != nil {
		return nil, err
	}
	if in.frozen() {
		return b.frozen(ctx, in)
	}

	lines, err := b.capture(ctx, in)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = l.id
	}
	if err := b.readChargeItems(ctx, in, ids); err != nil {
		return nil, err
	}
	if err := b.price(ctx, in, lines); err != nil {
		return nil, err
	}
	acc, err := b.shareCosts(ctx, in, lines)
	if err != nil {
		return nil, err
	}

	items, err := b.chargeItems(in, lines)
	if err != nil {
		return nil, err
	}
	inv, err := b.invoice(in, lines, acc)
	if err != nil {
		return nil, err
	}
	return b.store(ctx, in, lines, items, inv, acc)
}
