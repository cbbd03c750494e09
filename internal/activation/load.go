package activation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/invitepipe/invitepipe/schemas"
)

// Problem is one thing wrong with an activation file.
type Problem struct {
	// Path locates the value in the file, e.g. "activations[1].mapping.consumer_email";
	// empty for the file as a whole.
	Path    string
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem of an activation file.
type ValidationError struct {
	File     string // the file's path, or "" when parsed from bytes
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "activation file"
	}
	fmt.Fprintf(&b, "%s is invalid (%d problem", name, len(e.Problems))
	if len(e.Problems) > 1 {
		b.WriteByte('s')
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Load reads and validates the activation file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("activation file: %w (set INVITEPIPE_ACTIVATIONS to its path)", err)
	}
	f, err := Parse(data)
	var ve *ValidationError
	if errors.As(err, &ve) {
		ve.File = path
	}
	return f, err
}

// Parse validates an activation file's YAML and returns it with defaults applied.
func Parse(data []byte) (*File, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	inst, err := jsonValue(doc)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: err.Error()}}}
	}
	sch, err := activationSchema()
	if err != nil {
		return nil, err
	}
	var problems []Problem
	if err := sch.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("activation schema: %w", err)
		}
		problems = schemaProblems(ve)
		// The validator walks objects in map order: sort for a stable report.
		slices.SortStableFunc(problems, func(a, b Problem) int { return strings.Compare(sortKey(a.Path), sortKey(b.Path)) })
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		// The schema has said what is wrong; the typed decode only fails on such files.
		if len(problems) == 0 {
			problems = append(problems, Problem{Message: "cannot decode: " + err.Error()})
		}
		return nil, &ValidationError{Problems: problems}
	}
	problems = append(problems, notAt(f.check(), problems)...)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return &f, nil
}

// jsonValue turns decoded YAML into the JSON value the schema validates, with numbers
// kept exact.
func jsonValue(doc any) (any, error) {
	if doc == nil {
		return nil, errors.New("the file is empty: it needs destinations and activations")
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON (mapping keys must be strings): %w", err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// activationSchema compiles the embedded schema once.
func activationSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		schema, schemaErr = compileSchema("activations.v1.schema.json", schemas.Activations)
	})
	return schema, schemaErr
}

func compileSchema(name string, src []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return c.Compile(name)
}

var printer = message.NewPrinter(language.English)

// schemaProblems flattens the leaves of a schema validation error into problems, with
// paths in the file's own words.
func schemaProblems(ve *jsonschema.ValidationError) []Problem {
	if len(ve.Causes) > 0 {
		var out []Problem
		for _, c := range ve.Causes {
			out = append(out, schemaProblems(c)...)
		}
		return out
	}
	at := ve.InstanceLocation
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		out := make([]Problem, len(k.Missing))
		for i, m := range k.Missing {
			out[i] = Problem{Path: pathOf(append(at[:len(at):len(at)], m)), Message: "required"}
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]Problem, len(k.Properties))
		for i, p := range k.Properties {
			out[i] = Problem{Path: pathOf(append(at[:len(at):len(at)], p)), Message: "unknown field (check its spelling and level)"}
		}
		return out
	case *kind.Pattern:
		return []Problem{{Path: pathOf(at), Message: fmt.Sprintf("%q does not match %s", k.Got, patternHint(k.Want))}}
	case *kind.Maximum:
		// Only counts of calls have a maximum; far below it a count already means no limit.
		return []Problem{{Path: pathOf(at), Message: fmt.Sprintf("%s is more than %s; any count of 1000000 or more already means no limit",
			k.Got.RatString(), k.Want.RatString())}}
	case *kind.MinLength:
		return []Problem{{Path: pathOf(at), Message: "must not be empty"}}
	}
	return []Problem{{Path: pathOf(at), Message: ve.ErrorKind.LocalizedString(printer)}}
}

// patternHint says in words what the schema's patterns require.
func patternHint(pattern string) string {
	switch pattern {
	case "^[a-z0-9][a-z0-9-]*$":
		return "lowercase letters, digits and '-' (e.g. orders-service)"
	case "^[A-Za-z_][A-Za-z0-9_]*$":
		return "an environment variable name (e.g. TP_SHOP_EU_API_KEY)"
	}
	if strings.Contains(pattern, "(d|h|m|s)") {
		return "a duration such as 30d, 12h or 90m"
	}
	if strings.Contains(pattern, "(s|m|h)") {
		return "a duration such as 15m or 1h30m"
	}
	return pattern
}

// sortKey pads the indexes of a path so that activations[2] sorts before activations[10].
func sortKey(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] != '[' {
			b.WriteByte(path[i])
			continue
		}
		end := strings.IndexByte(path[i:], ']')
		if end < 0 {
			b.WriteString(path[i:])
			break
		}
		fmt.Fprintf(&b, "[%010s]", path[i+1:i+end])
		i += end
	}
	return b.String()
}

// pathOf writes a JSON pointer's tokens as activations[1].mapping.consumer_email.
func pathOf(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

// notAt drops the problems at a path that already has one: a value the schema rejected
// is reported once, in the schema's words.
func notAt(ps, reported []Problem) []Problem {
	seen := make(map[string]bool, len(reported))
	for _, p := range reported {
		seen[p.Path] = true
	}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p.Path] {
			out = append(out, p)
		}
	}
	return out
}
