package mutants

import (
	"os"
	"path/filepath"
	"testing"
)

// Every mutant of the repository's catalogue must apply to the tree as it
// is: an edit that moves the code a snippet targets must re-anchor it in the
// same change, or make mutants would silently judge fewer mutants.
func TestCatalogueAppliesToTheTree(t *testing.T) {
	root := filepath.Join("..", "..")
	ms, err := Load(filepath.Join(root, "mutants"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("empty catalogue")
	}
	for _, m := range ms {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if _, err := m.Apply(string(src)); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
}
