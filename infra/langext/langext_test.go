package langext

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const loop = `
Parameters:
  Shards:
    Type: CommaDelimitedList
    Default: "0,1"
Resources:
  Plain:
    Type: AWS::SNS::Topic
  Fn::ForEach::Shards:
    - K
    - !Ref Shards
    - Shard${K}Function:
        Type: AWS::Serverless::Function
        Properties:
          FunctionName: !Sub "fn-${K}-${Stage}"
          Environment:
            Variables:
              SHARD: !Ref K
              LONG: {Ref: K}
`

func expand(t *testing.T, src string, params map[string]string) (string, map[string]string, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	made, err := Expand(doc.Content[0], params)
	out, _ := yaml.Marshal(&doc)
	return string(out), made, err
}

// TestExpand: a loop over a parameter becomes one resource per value,
// with the identifier replaced in keys, !Sub strings and !Ref; the
// parameter's value wins over its Default.
func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		ids    []string
	}{
		{nil, []string{"Shard0Function", "Shard1Function"}},
		{map[string]string{"Shards": "0,1,2"}, []string{"Shard0Function", "Shard1Function", "Shard2Function"}},
	} {
		out, made, err := expand(t, loop, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		if len(made) != len(tc.ids) {
			t.Errorf("%v: made %v, want %v", tc.params, made, tc.ids)
		}
		for k, id := range tc.ids {
			if made[id] != "Shards" || !strings.Contains(out, id+":") {
				t.Errorf("%v: %s not made by loop Shards:\n%s", tc.params, id, out)
			}
			for _, want := range []string{`fn-` + string(rune('0'+k)) + `-${Stage}`, `SHARD: "` + string(rune('0'+k)) + `"`, `LONG: "` + string(rune('0'+k)) + `"`} {
				if !strings.Contains(out, want) {
					t.Errorf("%v: no %s in\n%s", tc.params, want, out)
				}
			}
		}
		if strings.Contains(out, "Fn::ForEach") || strings.Contains(out, "${K}") || !strings.Contains(out, "Plain:") {
			t.Errorf("%v: expansion left the loop or lost a resource:\n%s", tc.params, out)
		}
	}
}

// TestExpandRejects: what the loop cannot expand is an error naming it.
func TestExpandRejects(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{strings.Replace(loop, "Shard${K}Function", "ShardFunction", 1), "does not contain ${K}"},
		{strings.Replace(loop, "!Ref Shards", "!Ref Nothing", 1), "not a CommaDelimitedList"},
		{strings.Replace(loop, "    - K\n", "", 1), "want [identifier"},
	} {
		if _, _, err := expand(t, tc.src, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Expand = %v, want an error with %q", err, tc.want)
		}
	}
	if _, _, err := expand(t, loop, map[string]string{"Shards": "0,,1"}); err == nil || !strings.Contains(err.Error(), "empty value") {
		t.Errorf("an empty value: %v", err)
	}
}
