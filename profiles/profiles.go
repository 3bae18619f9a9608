package profiles

import "embed"

// SearchParameters holds one R4 SearchParameter resource per file, named
// searchparameters/<Base>-<code>.json. Pass it to search.Load.
//
//go:embed searchparameters/*.json
var SearchParameters embed.FS
