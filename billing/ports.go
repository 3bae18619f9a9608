package billing

import (
	"context"
	"errors"
	"net/url"

	"github.com/fhirbill/fhirbill/billing/pfs"
	"github.com/fhirbill/fhirbill/fhir/resource"
)

// This file states what billing needs from the rest of fhirbill. The
// implementations live outside billing and are handed in by cmd/fhirbill.

// Records is the FHIR storage billing reads and writes through: the same
// validation, versioning and search as the REST API.
type Records interface {
	// Read returns the current version of typ/id and its version number.
	// The error wraps resource.ErrNotFound when it does not exist and
	// resource.ErrDeleted when its current version is a delete; then the
	// version returned is the delete's, the Prev of a Change that writes
	// over it (billing counts a deleted resource as absent).
	Read(ctx context.Context, typ, id string) (*resource.Resource, int64, error)

	// Search returns every current resource of typ matching params, in the
	// FHIR search syntax of fhirbill's search parameters (all pages, in id
	// order). An unknown parameter is an error, never ignored.
	Search(ctx context.Context, typ string, params url.Values) ([]*resource.Resource, error)

	// Commit validates and stores every change, or none of them. A change
	// whose Prev is no longer the current version fails the whole commit
	// with an error wrapping resource.ErrConflict. A change whose content
	// equals the current version stores nothing for it. The server sets
	// meta.versionId and meta.lastUpdated.
	Commit(ctx context.Context, changes []Change) error
}

// Change is one resource to store in place of version Prev of the same
// type and id (0: it must not exist yet).
type Change struct {
	Resource *resource.Resource
	Prev     int64
}

// FeeSchedules gives the Medicare Physician Fee Schedule of a year.
type FeeSchedules interface {
	// Schedule returns the schedule of year, or an error wrapping
	// ErrNoSchedule when that year was not imported.
	Schedule(ctx context.Context, year int) (*pfs.Schedule, error)
}

// ErrNoSchedule: no fee schedule was imported for the year of service.
var ErrNoSchedule = errors.New("billing: no fee schedule for that year")
