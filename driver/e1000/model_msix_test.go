package e1000_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver/e1000"
)

// TestHasMSIX: of the models uiodrv drives only the 82574L has MSI-X, and
// New refuses Options.MSIX on the others (the CLI asks HasMSIX first).
func TestHasMSIX(t *testing.T) {
	for _, m := range []e1000.Model{e1000.Model82540EM, e1000.Model82545EM, e1000.Model82544GC, e1000.Model82574L} {
		if got, want := m.HasMSIX(), m == e1000.Model82574L; got != want {
			t.Errorf("%v.HasMSIX() = %v, want %v", m, got, want)
		}
	}
}
