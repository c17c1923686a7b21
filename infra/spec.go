package infra

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
)

// spec holds the vendored specification files (see spec/README.md).
//
//go:embed spec/cfn-spec.json.gz spec/iam-actions.txt.gz spec/sam-extra.json
var specFiles embed.FS

// PropertySpec is one property's type in the CloudFormation resource
// specification: a primitive, a List or Map of primitives or of a named
// property type, a named property type, or (in the SAM part) a choice
// among several of those.
type PropertySpec struct {
	PrimitiveType     string
	PrimitiveItemType string
	Type              string
	ItemType          string
	Required          bool
	// Choices (SAM): any of these primitives or named types; items of a
	// list of choices.
	PrimitiveTypes              []string
	Types                       []string
	PrimitiveItemTypes          []string
	ItemTypes                   []string
	InclusiveItemTypes          []string
	InclusivePrimitiveItemTypes []string
}

// TypeSpec is a resource type or a named property type.
type TypeSpec struct {
	Properties map[string]PropertySpec
	Attributes map[string]PropertySpec
	// A property type may itself be a list or a primitive.
	PropertySpec
}

// Spec is the part of the CloudFormation resource specification the
// template check uses, with SAM's resource types, and the IAM actions.
type Spec struct {
	Version       string `json:"ResourceSpecificationVersion"`
	ResourceTypes map[string]*TypeSpec
	PropertyTypes map[string]*TypeSpec
	// actions holds "service:action" in lower case; services the prefixes.
	actions  map[string]bool
	services map[string]bool
}

var (
	specOnce sync.Once
	theSpec  *Spec
	specErr  error
)

// LoadSpec reads the vendored specification (once).
func LoadSpec() (*Spec, error) {
	specOnce.Do(func() { theSpec, specErr = loadSpec() })
	return theSpec, specErr
}

func loadSpec() (*Spec, error) {
	raw, err := gunzip("spec/cfn-spec.json.gz")
	if err != nil {
		return nil, err
	}
	s := &Spec{}
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, fmt.Errorf("infra: spec: %w", err)
	}
	extra, err := specFiles.ReadFile("spec/sam-extra.json")
	if err != nil {
		return nil, fmt.Errorf("infra: spec: %w", err)
	}
	var add Spec
	if err := json.Unmarshal(extra, &add); err != nil {
		return nil, fmt.Errorf("infra: spec: sam-extra.json: %w", err)
	}
	merge(s.ResourceTypes, add.ResourceTypes)
	merge(s.PropertyTypes, add.PropertyTypes)
	list, err := gunzip("spec/iam-actions.txt.gz")
	if err != nil {
		return nil, err
	}
	s.actions, s.services = map[string]bool{}, map[string]bool{}
	for _, a := range strings.Fields(string(list)) {
		a = strings.ToLower(a)
		s.actions[a] = true
		svc, _, _ := strings.Cut(a, ":")
		s.services[svc] = true
	}
	return s, nil
}

// merge adds the types and properties of add to into.
func merge(into, add map[string]*TypeSpec) {
	for name, t := range add {
		cur := into[name]
		if cur == nil {
			into[name] = t
			continue
		}
		if cur.Properties == nil {
			cur.Properties = map[string]PropertySpec{}
		}
		for p, v := range t.Properties {
			cur.Properties[p] = v
		}
	}
}

func gunzip(name string) ([]byte, error) {
	b, err := specFiles.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("infra: spec: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("infra: spec %s: %w", name, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("infra: spec %s: %w", name, err)
	}
	return out, nil
}

// propertyType finds the named property type name as used by a property
// of resource type res ("BucketEncryption" → AWS::S3::Bucket.BucketEncryption;
// "Tag" is global).
func (s *Spec) propertyType(res, name string) (string, *TypeSpec) {
	if t := s.PropertyTypes[res+"."+name]; t != nil {
		return res + "." + name, t
	}
	return name, s.PropertyTypes[name]
}

// IAMAction reports whether action (service:Action, wildcards * and ?
// allowed in the action part) names at least one real IAM action.
func (s *Spec) IAMAction(action string) bool {
	a := strings.ToLower(action)
	if a == "*" {
		return true
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || !s.services[svc] || name == "" {
		return false
	}
	if !strings.ContainsAny(name, "*?") {
		return s.actions[a]
	}
	for known := range s.actions {
		if m, _ := path.Match(a, known); m {
			return true
		}
	}
	return false
}
