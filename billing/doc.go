// Package billing is the billing domain of fhirbill: it turns a finished
// Encounter into priced ChargeItems and an itemized Invoice, then into a
// professional Claim for the insurer, and the insurer's answer back into
// the Invoice.
//
// # The job
//
// [Biller.Bill] reads the Encounter and what points at it, then:
//
//   - capture: a line for the visit (coded from Encounter.type, else
//     serviceType) and one per completed Procedure whose encounter is it.
//     CPT and HCPCS codes are used as they are; other systems go through
//     the stored ConceptMaps ([Biller.Translate]). Diagnoses come from
//     Encounter.diagnosis in rank order, then billing-role ones, then the
//     Encounter's other Conditions, each coded in ICD-10-CM the same way.
//     Modifiers travel in the [ExtModifier] extension, a valueCoding; one
//     of another type is a 422 naming it, never dropped. A Condition or
//     Procedure of another patient is never billed, nor does it hold up
//     the visit: it is left out, with an informational note naming it by
//     id.
//   - gross charge: the provider's price list, ChargeItemDefinitions with a
//     code and no payer context; the one for the code and modifiers, else
//     the code alone, in effect on the date of service (always, without an
//     effectivePeriod). One whose useContext "venue" references the
//     billing provider (Encounter.serviceProvider) applies to that
//     provider only and wins over those without a venue, which every
//     provider shares; payer prices and contracts are scoped the same way.
//   - allowed amount: the payer named by the patient's Coverage (a
//     reference to an Organization, or an identifier that one Organization
//     carries) has a contract, a ChargeItemDefinition without code whose
//     useContext "program" references the payer Organization, with an
//     [ExtAllowedRule] extension: medicare-pfs (the Medicare Physician Fee
//     Schedule amount times the factor of its base price component, on the
//     schedule of the year of service or of the year its [ExtPFSYear]
//     names), fee-list (only the payer's own code-specific
//     ChargeItemDefinitions price) or billed (the gross charge). A
//     code-specific ChargeItemDefinition of the payer always wins. No
//     Coverage is self-pay: allowed = gross. The allowed amount never
//     exceeds the gross charge; a negative one (a payer price or factor
//     below zero) leaves the line not billable, as a negative gross
//     charge does. Gross charges adding up past what a decimal holds on
//     this server are a 422 on the price that weighs most.
//   - cost sharing ([ApplyCostSharing]) from Coverage.costToBeneficiary,
//     or, for a Coverage that states none, from the payer's plan (an
//     InsurancePlan owned by the payer: its first plan's generalCost and
//     specificCost, in the same coverage-copay-type codes; a term in a
//     form billing would have to guess at, or stated twice with different
//     values, is a 422 naming it), with the plan
//     year's deductible and out-of-pocket totals kept in an accumulator
//     Account (one [ExtAccumulator] entry per Invoice).
//   - assembly: the ChargeItems, one Invoice for the patient and the
//     Account, stored in one [Records.Commit].
//
// Every priced ChargeItem carries its trail ([ExtPricingTrail]): schedule,
// year, locality, rule and arithmetic, so that a reader can redo the sum.
// A service that cannot be coded or priced is kept as a not-billable
// ChargeItem with the reason, never dropped.
//
// # Identity and idempotency
//
// Ids derive from natural keys: the Invoice of Encounter e is "e-patient"
// (then "e-patient-r2", ... after a cancellation), ChargeItems hash the
// Encounter, the line's source, code and modifiers, the Account names the
// Coverage and the plan year's start. The Invoice names every ChargeItem
// of its billing (its lines', and the not-billable ones in [ExtNotBilled]
// extensions), so billing finds them again by id, never by a search. So
// billing again is a handful of reads by id and the searches for the
// Encounter's Conditions, Procedures and Coverage and for prices; the
// same inputs give byte-identical resources and store nothing, and a
// change of the inputs updates the draft in place. An issued or balanced
// Invoice is never rewritten: it changes only by [Biller.SetInvoiceStatus],
// which does not issue the draft of an Encounter entered in error,
// cancelled or deleted since it was billed.
// A client does not edit an Invoice billing made, draft included, beyond
// moving an issued one to balanced ([CheckInvoiceWrite]): staff correct
// the inputs and bill again. Nor does a client create an Invoice at an
// id billing gives, or one with an identifier of [SystemEncounterID]
// ([CheckInvoiceCreate]). Two Encounters billed at once race on the
// Account's version; the loser computes again, so a deductible dollar is
// spent once. The Account changes only through billing: a client neither
// changes it nor creates one at an accumulator id ([CheckAccountWrite],
// [CheckAccountCreate]); nor a ChargeItem billing made
// ([CheckChargeItemWrite], [CheckChargeItemCreate]), since $claim bills
// what the ChargeItems say.
//
// # Claims
//
// [Biller.BuildClaim] builds the professional Claim of a billed Encounter
// from its Invoice and ChargeItems and the patient's Coverages, ordered
// by Coverage.order as billing orders them: "<encounter>-claim-<coverage>",
// then "-r2"... for a revision of the Invoice (a natural key, so building
// again stores nothing), one item per
// Invoice line with the line's sequence, its CPT or HCPCS code, Claim.item
// modifiers (the ChargeItem keeps the [ExtModifier] extension), the CMS
// place of service as locationCodeableConcept in [SystemPOS], at most
// four diagnosis pointers in the order billing ranked the diagnoses, and
// the gross charge as net; total is the sum of the nets. A later
// Coverage (the secondary) is claimed once the claims before it are
// adjudicated, for what the Invoice still leaves to the patient. An
// Invoice billed for another patient than the Encounter's now, or to
// another first Coverage, is not claimed (409): bill again.
//
// [Scrub] runs the front-end edits of a professional claim (code forms,
// pointers, quantities, dates, modifiers, NPIs with their check digit,
// the patient on the server and the Coverage's beneficiary, Coverage in
// force, one currency, amounts not below zero and in whole cents); each
// failure is an [Edit] with the FHIRPath of
// the element at fault. A Claim is draft while it fails one, active once
// it passes them all. [Biller.Submit] is Claim/$submit: scrub, store, and
// answer a ClaimResponse (queued, or error with the edits); a Claim is
// known by Claim.identifier[0], so submitting it again stores nothing;
// the Claim of a cancelled Invoice is refused ($cancel cancels the
// Invoice's Claims that have no payer's answer, in its commit, and the
// revision billed next is claimed under its own ids), and so is one naming an
// Invoice or Encounter by fhirbill's identifiers that disagrees with
// them (another patient's, another Coverage, an Invoice billing did not
// make for that Encounter). A Claim these operations
// stored and its ClaimResponse change only through them
// ([CheckClaimWrite], [CheckClaimResponseWrite]), and no client creates
// either at an id they give, nor a Claim with their identifier
// ([CheckClaimCreate], [CheckClaimResponseCreate]); a
// ClaimResponse at a Claim's answer id that answers another Claim is a
// 409, never taken for its answer.
//
// # Remittance and the issued Invoice
//
// [Biller.Remit] applies the payer's adjudicated ClaimResponse to the
// patient's Invoice: each line becomes what the payer decided (eligible,
// benefit, deductible, copay, coinsurance), the totals are summed again,
// and the Invoice is issued, or balanced when the patient owes nothing;
// the plan year's accumulator follows what the payer applied. The
// ClaimResponse, the Invoice and the Account are stored in one commit,
// or not at all when the answer does not fit its Claim: not active, not
// to a claim, a line left out of a complete outcome, amounts not in
// whole cents or that do not add up, totals or a payment that are not
// the sums of the lines, or what billing does not apply (addItem,
// header or detail adjudication), or a Claim that disagrees with its
// Invoice or Encounter. Once it is applied, the Invoice is not
// cancelled and another answer is a 409: the payer's decision stands,
// and a correction is a new claim.
//
// An issued Invoice otherwise changes only by status. Remittance is the
// one exception, and a narrow one: the Invoice billing issued was an
// estimate of what the payer would decide, and the payer's decision
// replaces it, as a new version (the estimate stays in the Invoice's
// history, the narrative names the ClaimResponse), only through
// [Biller.Remit], never through a client's PUT; a cancelled Invoice is
// not remitted, and a balanced one is not remitted again. Billing the
// Encounter again leaves the remitted Invoice as the payer made it.
//
// # Money
//
// Money is always [decimal.Decimal], never float64. Each line's amounts are
// rounded half up to the cent once, and totals are sums of rounded lines, so
// the numbers on an Invoice add up (DESIGN.md, "Invoice semantics"). One
// currency per Biller; an amount in another is refused with a 400.
//
// billing is pure domain code: it must not import HTTP, Echo, the MongoDB
// driver, fhir/store or fhir/rest. What it needs from storage it states as
// small interfaces ([Records], [FeeSchedules]) that cmd/fhirbill
// implements. A test enforces the import rule.
package billing
