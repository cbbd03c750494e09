// Package schemas embeds invitepipe's JSON Schemas, the contracts for the activation file
// and for row messages, so the binary validates against exactly the files in this folder.
package schemas

import _ "embed"

// Activations is activations.v1.schema.json.
//
//go:embed activations.v1.schema.json
var Activations []byte

// Row is row.v1.schema.json.
//
//go:embed row.v1.schema.json
var Row []byte
