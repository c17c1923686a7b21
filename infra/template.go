package infra

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/telcolake/telcolake/infra/langext"
)

// DistDir is where make package writes the zips, relative to
// infra/template.yaml: a function's CodeUri is DistDir/<name>.zip.
const DistDir = "../dist"

// CheckOptions say what the template must agree with.
type CheckOptions struct {
	// Functions are the functions Build packages (functions/<name>):
	// each needs one AWS::Serverless::Function with CodeUri
	// DistDir/<name>.zip, and no function may point elsewhere.
	Functions []string
}

// TemplateError lists everything wrong with a template, one problem a
// line: "line 12: Resources.X.Properties.Y: ...".
type TemplateError struct {
	Problems []string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("template: %d problem(s):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// pseudoParameters are CloudFormation's pseudo parameters.
var pseudoParameters = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
	"AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

// samGenerated maps a SAM resource type to the CloudFormation type it
// becomes, whose attributes !GetAtt may name.
var samGenerated = map[string]string{
	"AWS::Serverless::Function":     "AWS::Lambda::Function",
	"AWS::Serverless::HttpApi":      "AWS::ApiGatewayV2::Api",
	"AWS::Serverless::Api":          "AWS::ApiGateway::RestApi",
	"AWS::Serverless::StateMachine": "AWS::StepFunctions::StateMachine",
	"AWS::Serverless::SimpleTable":  "AWS::DynamoDB::Table",
	"AWS::Serverless::LayerVersion": "AWS::Lambda::LayerVersion",
}

var topLevel = []string{"AWSTemplateFormatVersion", "Conditions", "Description", "Globals", "Mappings",
	"Metadata", "Outputs", "Parameters", "Resources", "Rules", "Transform"}

var resourceKeys = []string{"Condition", "CreationPolicy", "DeletionPolicy", "DependsOn", "Metadata",
	"Properties", "Type", "UpdatePolicy", "UpdateReplacePolicy"}

var parameterTypes = regexp.MustCompile(`^(String|Number|List<Number>|CommaDelimitedList|AWS::[A-Za-z0-9:]+|List<AWS::[A-Za-z0-9:]+>|AWS::SSM::Parameter::Value<.+>)$`)

// checker walks one template.
type checker struct {
	spec     *Spec
	problems []string
	params   map[string]bool
	res      map[string]string // logical id → type
	conds    map[string]bool
	// typesOnly: shapes only, intrinsic functions are resolved by the
	// caller (a choice among types is checked by such a checker).
	typesOnly bool
	// looped are the logical ids Fn::ForEach made, with their loop.
	looped map[string]string
}

func (c *checker) addf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	c.problems = append(c.problems, fmt.Sprintf("line %d: %s: %s", line, path, fmt.Sprintf(format, args...)))
}

// CheckTemplate checks a SAM template (YAML, CloudFormation short-form tags
// allowed) against the specification and opt. A nil error means no problem
// was found; otherwise the error is a *TemplateError.
func CheckTemplate(data []byte, opt CheckOptions) error {
	spec, err := LoadSpec()
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return &TemplateError{Problems: []string{"not YAML: " + err.Error()}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return &TemplateError{Problems: []string{"not a template: the top level is not a mapping"}}
	}
	root := doc.Content[0]
	c := &checker{spec: spec, params: map[string]bool{}, res: map[string]string{}, conds: map[string]bool{}}
	// Fn::ForEach loops, expanded with the parameters' defaults: the
	// resources a deployment with them gets.
	looped, err := langext.Expand(root, nil)
	if err != nil {
		return &TemplateError{Problems: []string{err.Error()}}
	}
	c.looped = looped
	for _, kv := range pairs(root) {
		if !slices.Contains(topLevel, kv.key.Value) {
			c.addf(kv.key, kv.key.Value, "unknown top-level section")
		}
	}
	for _, kv := range pairs(get(root, "Parameters")) {
		c.params[kv.key.Value] = true
		if t := scalarOf(get(kv.val, "Type")); !parameterTypes.MatchString(t) {
			c.addf(kv.val, "Parameters."+kv.key.Value, "type %q is not a parameter type", t)
		}
	}
	for _, kv := range pairs(get(root, "Conditions")) {
		c.conds[kv.key.Value] = true
	}
	resources := get(root, "Resources")
	if resources == nil || len(resources.Content) == 0 {
		c.addf(root, "Resources", "missing")
	}
	for _, kv := range pairs(resources) {
		typ := scalarOf(get(kv.val, "Type"))
		c.res[kv.key.Value] = typ
	}
	// Resources SAM creates and a template may name.
	for _, r := range pairs(resources) {
		if c.res[r.key.Value] != "AWS::Serverless::Function" {
			continue
		}
		props := get(r.val, "Properties")
		if get(props, "Role") == nil {
			c.res[r.key.Value+"Role"] = "AWS::IAM::Role"
		}
		for _, ev := range pairs(get(props, "Events")) {
			if scalarOf(get(ev.val, "Type")) == "HttpApi" && get(get(ev.val, "Properties"), "ApiId") == nil {
				c.res["ServerlessHttpApi"] = "AWS::ApiGatewayV2::Api"
			}
		}
	}

	globals := get(get(root, "Globals"), "Function")
	if globals != nil {
		c.properties(globals, "Globals.Function", "AWS::Serverless::Function", spec.ResourceTypes["AWS::Serverless::Function"], false)
	}
	for _, r := range pairs(resources) {
		c.resource(r.key.Value, r.val, globals)
	}
	for _, o := range pairs(get(root, "Outputs")) {
		c.value(get(o.val, "Value"), "Outputs."+o.key.Value+".Value", nil)
		if get(o.val, "Value") == nil {
			c.addf(o.val, "Outputs."+o.key.Value, "no Value")
		}
	}
	for _, cd := range pairs(get(root, "Conditions")) {
		c.value(cd.val, "Conditions."+cd.key.Value, nil)
	}
	c.functions(resources, globals, opt)
	c.stateMachines(resources)
	c.iam(root, "")
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool { return lineOf(c.problems[i]) < lineOf(c.problems[j]) })
		return &TemplateError{Problems: c.problems}
	}
	return nil
}

func lineOf(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(p, ":", 2)[0], "line "))
	return n
}

func (c *checker) resource(id string, r *yaml.Node, globals *yaml.Node) {
	path := "Resources." + id
	if r.Kind != yaml.MappingNode {
		c.addf(r, path, "not a mapping")
		return
	}
	for _, kv := range pairs(r) {
		if !slices.Contains(resourceKeys, kv.key.Value) {
			c.addf(kv.key, path, "unknown resource attribute %s", kv.key.Value)
		}
	}
	typ := c.res[id]
	ts := c.spec.ResourceTypes[typ]
	if ts == nil {
		if strings.HasPrefix(typ, "Custom::") {
			return
		}
		c.addf(get(r, "Type"), path, "unknown resource type %q", typ)
		return
	}
	if cond := get(r, "Condition"); cond != nil && !c.conds[cond.Value] {
		c.addf(cond, path+".Condition", "no condition %s", cond.Value)
	}
	if dep := get(r, "DependsOn"); dep != nil {
		deps := []*yaml.Node{dep}
		if dep.Kind == yaml.SequenceNode {
			deps = dep.Content
		}
		for _, d := range deps {
			if _, ok := c.res[d.Value]; !ok {
				c.addf(d, path+".DependsOn", "no resource %s", d.Value)
			}
		}
	}
	props := get(r, "Properties")
	if props == nil {
		props = &yaml.Node{Kind: yaml.MappingNode, Line: r.Line}
	}
	var merged *yaml.Node
	if typ == "AWS::Serverless::Function" {
		merged = globals
	}
	c.propertiesWith(props, path+".Properties", typ, ts, true, merged)
}

// properties checks a mapping against a resource or property type.
func (c *checker) properties(n *yaml.Node, path, owner string, ts *TypeSpec, required bool) {
	c.propertiesWith(n, path, owner, ts, required, nil)
}

// propertiesWith checks a mapping against a type's properties; a required
// property may come from also (SAM Globals).
func (c *checker) propertiesWith(n *yaml.Node, path, owner string, ts *TypeSpec, required bool, also *yaml.Node) {
	if intrinsic(n) {
		c.value(n, path, nil)
		return
	}
	if n.Kind != yaml.MappingNode {
		c.addf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	for _, kv := range pairs(n) {
		ps, ok := ts.Properties[kv.key.Value]
		if !ok {
			c.addf(kv.key, path, "unknown property %s of %s%s", kv.key.Value, owner, suggest(kv.key.Value, ts.Properties))
			continue
		}
		c.value(kv.val, path+"."+kv.key.Value, &typed{owner: resourceOf(owner), ps: ps})
	}
	if !required {
		return
	}
	var missing []string
	for name, ps := range ts.Properties {
		if ps.Required && get(n, name) == nil && get(also, name) == nil {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		c.addf(n, path, "required property %s of %s missing", m, owner)
	}
}

// resourceOf is the resource type a property type belongs to
// (AWS::S3::Bucket.BucketEncryption → AWS::S3::Bucket).
func resourceOf(owner string) string {
	if i := strings.LastIndex(owner, "."); i > 0 {
		return owner[:i]
	}
	return owner
}

// typed is the expected type of a value: ps, named types resolved
// within owner (a resource type).
type typed struct {
	owner string
	ps    PropertySpec
}

// value checks n against t (nil: any value) and resolves every intrinsic
// function in it.
func (c *checker) value(n *yaml.Node, path string, t *typed) {
	if n == nil {
		return
	}
	if intrinsic(n) {
		if !c.typesOnly {
			c.intrinsic(n, path)
		}
		return
	}
	if t == nil {
		if !c.typesOnly {
			c.walk(n, path)
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		c.addf(n, path, "no value")
		return
	}
	c.problems = append(c.problems, c.typeProblems(n, path, t)...)
	if !c.typesOnly {
		c.walk(n, path)
	}
}

// walk resolves the intrinsic functions anywhere under n.
func (c *checker) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		if intrinsic(n) {
			c.intrinsic(n, path)
			return
		}
		for _, kv := range pairs(n) {
			c.walk(kv.val, path+"."+kv.key.Value)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			c.walk(e, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.ScalarNode:
		if intrinsic(n) {
			c.intrinsic(n, path)
		}
	}
}

// typeProblems checks the shape of n against t without recording: a
// choice among several types needs the problems of each.
func (c *checker) typeProblems(n *yaml.Node, path string, t *typed) []string {
	if intrinsic(n) {
		return nil
	}
	sub := &checker{spec: c.spec, params: c.params, res: c.res, conds: c.conds, typesOnly: true}
	ps := t.ps
	if ps.PrimitiveType == "Json" {
		return nil
	}
	// Each alternative with the node kind it wants; those of n's kind are
	// tried first, so theirs are the problems reported on a tie.
	type alt struct {
		kind  yaml.Kind
		check func()
	}
	var alts []alt
	if ps.PrimitiveType != "" {
		alts = append(alts, alt{yaml.ScalarNode, func() { sub.primitive(n, path, ps.PrimitiveType) }})
	}
	switch ps.Type {
	case "":
	case "List", "Map":
		item := PropertySpec{PrimitiveType: ps.PrimitiveItemType, Type: ps.ItemType,
			PrimitiveTypes: append(ps.PrimitiveItemTypes, ps.InclusivePrimitiveItemTypes...),
			Types:          append(ps.ItemTypes, ps.InclusiveItemTypes...)}
		k := yaml.SequenceNode
		if ps.Type == "Map" {
			k = yaml.MappingNode
		}
		alts = append(alts, alt{k, func() { sub.collection(n, path, ps.Type, &typed{owner: t.owner, ps: item}) }})
	default:
		alts = append(alts, alt{yaml.MappingNode, func() { sub.named(n, path, t.owner, ps.Type) }})
	}
	for _, p := range ps.PrimitiveTypes {
		alts = append(alts, alt{yaml.ScalarNode, func() { sub.primitive(n, path, p) }})
	}
	for _, name := range ps.Types {
		alts = append(alts, alt{yaml.MappingNode, func() { sub.named(n, path, t.owner, name) }})
	}
	if ps.Type == "" && (len(ps.PrimitiveItemTypes) > 0 || len(ps.InclusiveItemTypes) > 0 || len(ps.InclusivePrimitiveItemTypes) > 0) {
		item := PropertySpec{PrimitiveTypes: append(ps.PrimitiveItemTypes, ps.InclusivePrimitiveItemTypes...), Types: ps.InclusiveItemTypes}
		alts = append(alts, alt{yaml.SequenceNode, func() { sub.collection(n, path, "List", &typed{owner: t.owner, ps: item}) }})
	}
	sort.SliceStable(alts, func(i, j int) bool { return alts[i].kind == n.Kind && alts[j].kind != n.Kind })
	var best []string
	for i, a := range alts {
		sub.problems = nil
		a.check()
		if len(sub.problems) == 0 {
			return nil
		}
		if i == 0 || len(sub.problems) < len(best) {
			best = sub.problems
		}
	}
	return best
}

func (c *checker) collection(n *yaml.Node, path, kind string, item *typed) {
	switch {
	case kind == "List" && n.Kind == yaml.SequenceNode:
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if intrinsic(e) {
				continue
			}
			c.problems = append(c.problems, c.typeProblems(e, p, item)...)
		}
	case kind == "Map" && n.Kind == yaml.MappingNode:
		for _, kv := range pairs(n) {
			if intrinsic(kv.val) {
				continue
			}
			c.problems = append(c.problems, c.typeProblems(kv.val, path+"."+kv.key.Value, item)...)
		}
	default:
		want := "a list"
		if kind == "Map" {
			want = "a mapping"
		}
		c.addf(n, path, "want %s, got %s", want, kindName(n))
	}
}

// named checks n against the named property type name of resource owner.
func (c *checker) named(n *yaml.Node, path, owner, name string) {
	full, ts := c.spec.propertyType(owner, name)
	if ts == nil {
		c.addf(n, path, "the specification has no property type %s", full)
		return
	}
	if full == "AWS::Serverless::Function.EventSource" {
		c.eventSource(n, path)
		return
	}
	if ts.Properties == nil && (ts.Type != "" || ts.PrimitiveType != "") {
		c.problems = append(c.problems, c.typeProblems(n, path, &typed{owner: owner, ps: ts.PropertySpec})...)
		return
	}
	c.properties(n, path, full, ts, true)
}

// eventSource checks a SAM function event: its Properties have the type
// its Type names (S3 → S3Event, Schedule → ScheduleEvent, ...).
func (c *checker) eventSource(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		c.addf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	typ := get(n, "Type")
	for _, kv := range pairs(n) {
		if kv.key.Value != "Type" && kv.key.Value != "Properties" {
			c.addf(kv.key, path, "unknown key %s of an event source (Type, Properties)", kv.key.Value)
		}
	}
	if typ == nil {
		c.addf(n, path, "event source without Type")
		return
	}
	name := "AWS::Serverless::Function." + typ.Value + "Event"
	ts := c.spec.PropertyTypes[name]
	if ts == nil {
		c.addf(typ, path+".Type", "unknown SAM event source type %q", typ.Value)
		return
	}
	props := get(n, "Properties")
	if props == nil {
		props = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line}
	}
	c.properties(props, path+".Properties", name, ts, true)
}

func (c *checker) primitive(n *yaml.Node, path, typ string) {
	if typ == "Json" {
		return
	}
	if n.Kind != yaml.ScalarNode {
		c.addf(n, path, "want a %s, got %s", typ, kindName(n))
		return
	}
	ok := true
	switch typ {
	case "Integer", "Long":
		_, err := strconv.ParseInt(n.Value, 10, 64)
		ok = err == nil
	case "Double":
		_, err := strconv.ParseFloat(n.Value, 64)
		ok = err == nil
	case "Boolean":
		v := strings.ToLower(n.Value)
		ok = v == "true" || v == "false"
	}
	if !ok {
		c.addf(n, path, "want a %s, got %q", typ, n.Value)
	}
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// intrinsic resolves an intrinsic function's references.
func (c *checker) intrinsic(n *yaml.Node, path string) {
	fn, arg := intrinsicOf(n)
	switch fn {
	case "Ref":
		if arg.Kind != yaml.ScalarNode {
			c.addf(arg, path, "!Ref wants a name")
			return
		}
		c.ref(arg, path, arg.Value)
	case "Fn::GetAtt":
		var res, attr string
		switch {
		case arg.Kind == yaml.ScalarNode:
			res, attr, _ = strings.Cut(arg.Value, ".")
		case arg.Kind == yaml.SequenceNode && len(arg.Content) == 2:
			res, attr = arg.Content[0].Value, arg.Content[1].Value
		default:
			c.addf(arg, path, "!GetAtt wants Resource.Attribute")
			return
		}
		c.getAtt(arg, path, res, attr)
	case "Fn::Sub":
		tmpl, vars := arg, (*yaml.Node)(nil)
		if arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 {
			tmpl, vars = arg.Content[0], arg.Content[1]
			c.walk(vars, path)
		}
		if tmpl.Kind != yaml.ScalarNode {
			c.addf(arg, path, "!Sub wants a string")
			return
		}
		for _, m := range subVar.FindAllStringSubmatch(tmpl.Value, -1) {
			name := m[1]
			if strings.HasPrefix(name, "!") || get(vars, name) != nil {
				continue
			}
			if res, attr, ok := strings.Cut(name, "."); ok && !slices.Contains(pseudoParameters, name) {
				c.getAtt(tmpl, path, res, attr)
				continue
			}
			c.ref(tmpl, path, name)
		}
	case "Condition":
		if !c.conds[arg.Value] {
			c.addf(arg, path, "no condition %s", arg.Value)
		}
	case "Fn::If":
		if arg.Kind == yaml.SequenceNode && len(arg.Content) == 3 {
			if !c.conds[arg.Content[0].Value] {
				c.addf(arg, path, "!If: no condition %s", arg.Content[0].Value)
			}
			c.walk(arg.Content[1], path)
			c.walk(arg.Content[2], path)
		} else {
			c.addf(arg, path, "!If wants [condition, then, else]")
		}
	default:
		c.walk(arg, path)
	}
}

func (c *checker) ref(n *yaml.Node, path, name string) {
	if c.params[name] || slices.Contains(pseudoParameters, name) {
		return
	}
	if _, ok := c.res[name]; ok {
		return
	}
	c.addf(n, path, "reference to %s, which is no parameter, resource or pseudo parameter", name)
}

func (c *checker) getAtt(n *yaml.Node, path, res, attr string) {
	typ, ok := c.res[res]
	if !ok {
		c.addf(n, path, "!GetAtt %s.%s: no resource %s", res, attr, res)
		return
	}
	if g, ok := samGenerated[typ]; ok {
		typ = g
	}
	ts := c.spec.ResourceTypes[typ]
	if ts == nil {
		return // an unknown type is reported on the resource
	}
	if _, ok := ts.Attributes[attr]; !ok {
		var have []string
		for a := range ts.Attributes {
			have = append(have, a)
		}
		sort.Strings(have)
		c.addf(n, path, "!GetAtt %s.%s: %s has no attribute %s (it has %s)", res, attr, typ, attr, strings.Join(have, ", "))
	}
}

// functions checks each AWS::Serverless::Function against what Build
// produces.
func (c *checker) functions(resources, globals *yaml.Node, opt CheckOptions) {
	prop := func(props *yaml.Node, k string) *yaml.Node {
		if v := get(props, k); v != nil {
			return v
		}
		return get(globals, k)
	}
	seen := map[string]string{}
	bad := false
	for _, r := range pairs(resources) {
		if c.res[r.key.Value] != "AWS::Serverless::Function" {
			continue
		}
		id, props := r.key.Value, get(r.val, "Properties")
		path := "Resources." + id + ".Properties"
		code := prop(props, "CodeUri")
		name := strings.TrimSuffix(strings.TrimPrefix(scalarOf(code), DistDir+"/"), ".zip")
		switch {
		case code == nil || code.Kind != yaml.ScalarNode:
			bad = true
			c.addf(r.val, path+".CodeUri", "want %s/<function>.zip, the package make package builds", DistDir)
		case scalarOf(code) != DistDir+"/"+name+".zip" || !slices.Contains(opt.Functions, name):
			bad = true
			c.addf(code, path+".CodeUri", "%q is not a package make package builds (%s/{%s}.zip)", code.Value, DistDir, strings.Join(opt.Functions, ","))
		case c.looped[id] != "":
			// A loop's copies deploy one package several times, as meant.
		default:
			if other, dup := seen[name]; dup {
				c.addf(code, path+".CodeUri", "package %s is also %s's", name, other)
			}
			seen[name] = id
		}
		if h := scalarOf(prop(props, "Handler")); h != Handler {
			c.addf(r.val, path+".Handler", "%q, want %q (the zip holds one executable, bootstrap)", h, Handler)
		}
		if rt := scalarOf(prop(props, "Runtime")); rt != Runtime {
			c.addf(r.val, path+".Runtime", "%q, want %q (the bootstraps are built for it)", rt, Runtime)
		}
		arch := prop(props, "Architectures")
		if arch == nil || arch.Kind != yaml.SequenceNode || len(arch.Content) != 1 || arch.Content[0].Value != Architecture {
			got := "none (x86_64)"
			if arch != nil {
				var vs []string
				for _, a := range arch.Content {
					vs = append(vs, a.Value)
				}
				got = "[" + strings.Join(vs, ", ") + "]"
			}
			c.addf(r.val, path+".Architectures", "%s, want [%s] (make package builds linux/%s)", got, Architecture, Architecture)
		}
	}
	for _, f := range opt.Functions {
		if _, ok := seen[f]; !ok && !bad {
			c.addf(resources, "Resources", "no AWS::Serverless::Function deploys functions/%s (CodeUri %s/%s.zip)", f, DistDir, f)
		}
	}
}

// iam checks the Action and NotAction of every policy statement under n.
func (c *checker) iam(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for _, kv := range pairs(n) {
			p := strings.TrimPrefix(path+"."+kv.key.Value, ".")
			if kv.key.Value == "Statement" {
				c.statements(kv.val, p)
				continue
			}
			c.iam(kv.val, p)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			c.iam(e, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func (c *checker) statements(n *yaml.Node, path string) {
	list := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		list = n.Content
	}
	for i, st := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		if st.Kind != yaml.MappingNode || intrinsic(st) {
			continue
		}
		if e := scalarOf(get(st, "Effect")); e != "Allow" && e != "Deny" {
			c.addf(st, p+".Effect", "%q, want Allow or Deny", e)
		}
		for _, key := range []string{"Action", "NotAction"} {
			a := get(st, key)
			if a == nil {
				continue
			}
			acts := []*yaml.Node{a}
			if a.Kind == yaml.SequenceNode {
				acts = a.Content
			}
			for _, act := range acts {
				if act.Kind != yaml.ScalarNode || intrinsic(act) {
					continue
				}
				if !c.spec.IAMAction(act.Value) {
					c.addf(act, p+"."+key, "unknown IAM action %s", act.Value)
				}
			}
		}
	}
}

// intrinsic reports whether n is an intrinsic function: a short-form tag
// (!Ref, !Sub, ...) or a one-key mapping Ref / Fn::* / Condition.
func intrinsic(n *yaml.Node) bool {
	fn, _ := intrinsicOf(n)
	return fn != ""
}

func intrinsicOf(n *yaml.Node) (string, *yaml.Node) {
	if n == nil {
		return "", nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := n.Tag[1:]
		if name != "Ref" && name != "Condition" {
			name = "Fn::" + name
		}
		arg := *n
		arg.Tag = ""
		return name, &arg
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, n.Content[1]
		}
	}
	return "", nil
}

type pair struct{ key, val *yaml.Node }

func pairs(n *yaml.Node) []pair {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, pair{n.Content[i], n.Content[i+1]})
	}
	return out
}

func get(n *yaml.Node, key string) *yaml.Node {
	for _, kv := range pairs(n) {
		if kv.key.Value == key {
			return kv.val
		}
	}
	return nil
}

func scalarOf(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// suggest names a known property close to a misspelt one.
func suggest(name string, known map[string]PropertySpec) string {
	best, bestD := "", 3
	l := strings.ToLower(name)
	for k := range known {
		lk := strings.ToLower(k)
		d := distance(l, lk)
		if len(l) >= 4 && (strings.HasPrefix(lk, l) || strings.HasPrefix(l, lk)) {
			d = min(d, 2) // a shortened or extended name
		}
		if d < bestD || (d == bestD && best != "" && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
