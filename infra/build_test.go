package infra

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// cgoFunctions are the functions allowed cgo (built static with the cross
// compiler): train links liblinear. Scoring and the API must stay pure Go.
var cgoFunctions = []string{"train"}

func TestNoCgoOutsideCgoFunctions(t *testing.T) {
	names, err := Functions("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		deps, err := CgoDeps(context.Background(), "..", "./functions/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if allowed := slices.Contains(cgoFunctions, name); len(deps) > 0 && !allowed {
			t.Errorf("functions/%s imports cgo packages %s; keep cgo on the training path (see models/churn/liblinear)", name, strings.Join(deps, ", "))
		}
	}
	// The check itself: train does reach liblinear.
	deps, err := CgoDeps(context.Background(), "..", "./functions/train")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(deps, "github.com/sjwhitworth/golearn/linear_models") {
		t.Errorf("CgoDeps(train) = %v, want golearn's linear_models in it", deps)
	}
}
