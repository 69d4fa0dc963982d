package netif

import (
	"os"
	"testing"
)

func TestHtons(t *testing.T) {
	if got := Htons(0x0800); got != 0x0008 {
		t.Fatalf("Htons(0x0800) = %#04x", got)
	}
}

// The loopback interface exists everywhere: bringing it up is idempotent;
// a missing interface is an error.
func TestUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SIOCSIFFLAGS needs CAP_NET_ADMIN")
	}
	if err := Up("lo"); err != nil {
		t.Fatalf("Up(lo): %v", err)
	}
	if err := Up("nosuchif0"); err == nil {
		t.Fatal("Up of a missing interface succeeded")
	}
}
