package profiles

import "embed"

// SearchParameters holds one R4 SearchParameter resource per file, named
// searchparameters/<Base>-<code>.json. Pass it to search.Load.
//
//go:embed searchparameters/*.json
var SearchParameters embed.FS

// Conformance holds the conformance resources fhirbill defines, served
// through its API: the StructureDefinitions of its extensions, its code
// systems and the OperationDefinitions of its operations, one resource
// per file, named after its id.
//
//go:embed structuredefinitions/*.json codesystems/*.json operationdefinitions/*.json
var Conformance embed.FS
