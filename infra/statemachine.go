package infra

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The resource specification types a state machine's Definition as Json,
// so the generic check accepts anything there. stateMachines checks the
// Amazon States Language inside: the state graph (StartAt, Next, End, Map
// processors), the DefinitionSubstitutions every ${Name} needs, and that a
// Task invoking a function names one of the template's functions, through a
// substitution, which the machine's role may invoke (and a DISTRIBUTED Map
// may start its child executions).

var aslTypes = []string{"Task", "Map", "Parallel", "Pass", "Wait", "Choice", "Succeed", "Fail"}

var substitution = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func (c *checker) stateMachines(resources *yaml.Node) {
	for _, r := range pairs(resources) {
		if c.res[r.key.Value] != "AWS::StepFunctions::StateMachine" {
			continue
		}
		path := "Resources." + r.key.Value + ".Properties"
		props := get(r.val, "Properties")
		def := get(props, "Definition")
		if def == nil {
			continue // DefinitionString or DefinitionS3Location: not checked
		}
		subs := map[string]*yaml.Node{}
		for _, kv := range pairs(get(props, "DefinitionSubstitutions")) {
			subs[kv.key.Value] = kv.val
		}
		used := map[string]bool{}
		walkStrings(def, func(n *yaml.Node) {
			for _, m := range substitution.FindAllStringSubmatch(n.Value, -1) {
				used[m[1]] = true
				if subs[m[1]] == nil {
					c.addf(n, path+".Definition", "${%s} is not in DefinitionSubstitutions", m[1])
				}
			}
		})
		for name, n := range subs {
			if !used[name] {
				c.addf(n, path+".DefinitionSubstitutions."+name, "substitution %s is not used in the Definition", name)
			}
		}
		sm := &machineCheck{c: c, subs: subs, path: path + ".Definition"}
		sm.machine(def, sm.path)
		role := c.roleOf(resources, get(props, "RoleArn"))
		for _, fn := range sm.invoked {
			if role != nil && !allows(role, "lambda:InvokeFunction", fn) {
				c.addf(get(props, "RoleArn"), path+".RoleArn", "the role does not allow lambda:InvokeFunction on %s, which the Definition invokes", fn)
			}
		}
		if sm.distributed && role != nil && !allows(role, "states:StartExecution", "") {
			c.addf(get(props, "RoleArn"), path+".RoleArn", "a DISTRIBUTED Map starts child executions: the role needs states:StartExecution")
		}
	}
}

type machineCheck struct {
	c           *checker
	subs        map[string]*yaml.Node
	path        string
	invoked     []string // logical ids of invoked functions
	distributed bool
}

func (m *machineCheck) machine(n *yaml.Node, path string) {
	states := get(n, "States")
	start := scalarOf(get(n, "StartAt"))
	if states == nil || states.Kind != yaml.MappingNode || len(states.Content) == 0 {
		m.c.addf(n, path, "a state machine needs States")
		return
	}
	if get(states, start) == nil {
		m.c.addf(n, path+".StartAt", "StartAt %q is not a state", start)
	}
	for _, s := range pairs(states) {
		m.state(s.val, path+".States."+s.key.Value, states)
	}
}

func (m *machineCheck) state(n *yaml.Node, path string, states *yaml.Node) {
	typ := scalarOf(get(n, "Type"))
	if !slices.Contains(aslTypes, typ) {
		m.c.addf(n, path+".Type", "%q is not a state type (%s)", typ, strings.Join(aslTypes, ", "))
		return
	}
	next, end := get(n, "Next"), scalarOf(get(n, "End")) == "true"
	terminal := typ == "Succeed" || typ == "Fail" || typ == "Choice"
	switch {
	case next != nil && get(states, scalarOf(next)) == nil:
		m.c.addf(next, path+".Next", "Next %q is not a state", scalarOf(next))
	case !terminal && (next != nil) == end:
		m.c.addf(n, path, "a %s state needs exactly one of Next and End: true", typ)
	}
	switch typ {
	case "Task":
		if scalarOf(get(n, "Resource")) == "arn:aws:states:::lambda:invoke" {
			m.lambdaTask(n, path)
		}
	case "Map":
		proc := get(n, "ItemProcessor")
		if proc == nil {
			proc = get(n, "Iterator")
		}
		if proc == nil {
			m.c.addf(n, path, "a Map state needs an ItemProcessor")
			return
		}
		if cfg := get(proc, "ProcessorConfig"); cfg != nil {
			if mode := scalarOf(get(cfg, "Mode")); mode != "INLINE" && mode != "DISTRIBUTED" {
				m.c.addf(cfg, path+".ItemProcessor.ProcessorConfig.Mode", "%q, want INLINE or DISTRIBUTED", mode)
			} else if mode == "DISTRIBUTED" {
				m.distributed = true
				if et := scalarOf(get(cfg, "ExecutionType")); et != "STANDARD" && et != "EXPRESS" {
					m.c.addf(cfg, path+".ItemProcessor.ProcessorConfig.ExecutionType", "%q, want STANDARD or EXPRESS (a DISTRIBUTED Map needs one)", et)
				}
			}
		}
		m.machine(proc, path+".ItemProcessor")
	}
}

// lambdaTask checks Parameters.FunctionName is a substitution of one of
// the template's functions (!GetAtt Fn.Arn or !Ref Fn).
func (m *machineCheck) lambdaTask(n *yaml.Node, path string) {
	params := get(n, "Parameters")
	fn := get(params, "FunctionName")
	sub := substitution.FindStringSubmatch(scalarOf(fn))
	if fn == nil || sub == nil || "${"+sub[1]+"}" != scalarOf(fn) {
		m.c.addf(n, path+".Parameters.FunctionName", "a lambda:invoke task names its function as \"${Substitution}\" (one of the template's functions)")
		return
	}
	val := m.subs[sub[1]]
	if val == nil {
		return // reported with the substitutions
	}
	id := functionRef(val)
	if m.c.res[id] != "AWS::Serverless::Function" && m.c.res[id] != "AWS::Lambda::Function" {
		m.c.addf(val, m.path, "substitution %s is not !GetAtt <function>.Arn of a function of the template", sub[1])
		return
	}
	if !slices.Contains(m.invoked, id) {
		m.invoked = append(m.invoked, id)
	}
}

// functionRef is the logical id in !GetAtt Id.Arn or !Ref Id, else "".
func functionRef(n *yaml.Node) string {
	fn, arg := intrinsicOf(n)
	switch fn {
	case "Ref":
		return scalarOf(arg)
	case "Fn::GetAtt":
		s := scalarOf(arg)
		if arg != nil && arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 {
			s = arg.Content[0].Value + "." + arg.Content[1].Value
		}
		if id, ok := strings.CutSuffix(s, ".Arn"); ok {
			return id
		}
	}
	return ""
}

// roleOf is the AWS::IAM::Role resource a RoleArn (!GetAtt Role.Arn)
// names, or nil when it is not one of the template's roles.
func (c *checker) roleOf(resources, roleArn *yaml.Node) *yaml.Node {
	id := functionRef(roleArn)
	if c.res[id] != "AWS::IAM::Role" {
		return nil
	}
	return get(resources, id)
}

// allows reports whether a statement of the role's inline policies allows
// action (exactly or by a wildcard) on function id's ARN (!GetAtt id.Arn;
// "" for any resource).
func allows(role *yaml.Node, action, id string) bool {
	for _, p := range items(get(get(role, "Properties"), "Policies")) {
		for _, st := range items(get(get(p, "PolicyDocument"), "Statement")) {
			if scalarOf(get(st, "Effect")) != "Allow" || !listHas(get(st, "Action"), func(n *yaml.Node) bool {
				return strings.EqualFold(n.Value, action) || n.Value == "*" ||
					(strings.HasSuffix(n.Value, "*") && strings.HasPrefix(strings.ToLower(action), strings.ToLower(strings.TrimSuffix(n.Value, "*"))))
			}) {
				continue
			}
			if id == "" || listHas(get(st, "Resource"), func(n *yaml.Node) bool { return n.Value == "*" || functionRef(n) == id }) {
				return true
			}
		}
	}
	return false
}

func listHas(n *yaml.Node, f func(*yaml.Node) bool) bool {
	if n == nil {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		return f(n)
	}
	return slices.ContainsFunc(n.Content, f)
}

func walkStrings(n *yaml.Node, f func(*yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		f(n)
	}
	for _, k := range n.Content {
		walkStrings(k, f)
	}
}

// items are a sequence's nodes (none for nil or a non-sequence).
func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
