package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
)

// seedCmd is `fhirbill seed FILE...`: it stores the resources of FHIR
// Bundles of reference data (price lists, payers, plans, contracts,
// ConceptMaps) through the API's validated writes, as a transaction of
// PUTs would, without a running server.
type seedCmd struct {
	storeFlags
	Files []string `arg:"" type:"existingfile" help:"FHIR Bundles (transaction, batch or collection) whose every resource has its id."`
}

// Run stores each file's resources, all or none per file, and prints
// what changed. Loading the same files again changes nothing.
func (c *seedCmd) Run(ctx context.Context, stdout io.Writer, logOut logOutput) error {
	logger := newLogger(logOut, c.LogLevel)
	env, err := openAPI(ctx, c.storeFlags, logger)
	if err != nil {
		return err
	}
	defer env.close()

	for _, f := range c.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		n, err := loadSeed(ctx, env.api, data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Fprintf(stdout, "seed %s: %d resources: created %d, updated %d, unchanged %d\n",
			filepath.Base(f), n.total(), n.created, n.updated, n.unchanged)
	}
	return nil
}

// seedCounts says what loading a seed Bundle changed.
type seedCounts struct{ created, updated, unchanged int }

func (n seedCounts) total() int { return n.created + n.updated + n.unchanged }

// errSeedEntry: a seed entry fhirbill does not load as it stands.
var errSeedEntry = errors.New("seed entry")

// loadSeed stores every resource of the Bundle data in one commit, each
// in place of its current version (or as new): all are stored or none.
// Every resource must have an id (natural keys make loading twice change
// nothing) and an entry's request, if any, must be a PUT to Type/id;
// references are taken as written (no urn:uuid rewriting).
func loadSeed(ctx context.Context, api *rest.Server, data []byte) (seedCounts, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
			Request  *struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil || b.ResourceType != "Bundle" {
		return seedCounts{}, errors.New("not a FHIR Bundle in JSON")
	}
	switch b.Type {
	case "transaction", "batch", "collection":
	default:
		return seedCounts{}, fmt.Errorf("Bundle.type %q: want transaction, batch or collection", b.Type)
	}

	var changes []rest.Change
	for i, e := range b.Entry {
		r, err := resource.Parse(e.Resource)
		if err != nil {
			return seedCounts{}, fmt.Errorf("Bundle.entry[%d].resource: %w", i, err)
		}
		if r.ID() == "" {
			return seedCounts{}, fmt.Errorf("%w %d: the %s has no id; seed resources need ids", errSeedEntry, i, r.Type())
		}
		if q := e.Request; q != nil && (q.Method != "PUT" || q.URL != r.Type()+"/"+r.ID()) {
			return seedCounts{}, fmt.Errorf("%w %d: request must be PUT %s/%s", errSeedEntry, i, r.Type(), r.ID())
		}
		_, v, err := api.ReadResource(ctx, r.Type(), r.ID())
		if err != nil && !errors.Is(err, resource.ErrNotFound) && !errors.Is(err, resource.ErrDeleted) {
			return seedCounts{}, fmt.Errorf("read %s/%s: %w", r.Type(), r.ID(), err)
		}
		changes = append(changes, rest.Change{Resource: r, Prev: v})
	}
	recs, err := api.Commit(ctx, changes)
	if err != nil {
		return seedCounts{}, err
	}
	n := seedCounts{unchanged: len(changes) - len(recs)}
	for _, rec := range recs {
		if rec.Version == 1 {
			n.created++
		} else {
			n.updated++
		}
	}
	return n, nil
}
