package events

import (
	"bytes"
	"embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFiles are the JSON Schemas of the payloads, one file per subject and
// version: schema/<subject>.v<version>.json.
//
//go:embed schema/*.json
var schemaFiles embed.FS

// Schemas validates event payloads against their JSON Schema.
type Schemas struct {
	bySubject map[string]*jsonschema.Schema
}

// LoadSchemas compiles the schema of each subject at the current Version,
// with formats such as date-time asserted.
func LoadSchemas() (*Schemas, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s := &Schemas{bySubject: map[string]*jsonschema.Schema{}}
	for _, subject := range []string{SubjectDeliveryCreated, SubjectResultGraded, SubjectBatchCompleted} {
		name := SchemaFile(subject, Version)
		raw, err := schemaFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("load schema of %s: %w", subject, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		if err := c.AddResource(name, doc); err != nil {
			return nil, fmt.Errorf("add %s: %w", name, err)
		}
		if s.bySubject[subject], err = c.Compile(name); err != nil {
			return nil, fmt.Errorf("compile %s: %w", name, err)
		}
	}
	return s, nil
}

// SchemaFile is the path, inside this package, of a subject's schema.
func SchemaFile(subject string, version int) string {
	return fmt.Sprintf("schema/%s.v%d.json", subject, version)
}

// Validate checks one payload of subject (relative to the prefix).
func (s *Schemas) Validate(subject string, data []byte) error {
	sch, ok := s.bySubject[subject]
	if !ok {
		return fmt.Errorf("validate event: no schema for subject %q", subject)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("validate %s event: %w", subject, err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("validate %s event: %w", subject, err)
	}
	return nil
}
