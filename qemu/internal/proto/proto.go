// Package proto is the wire format between the lab's host side (package qemu)
// and its guest init (package guestinit): a JSON configuration file in the
// initramfs, and JSON lines over the guest's second serial port (ttyS1).
package proto

// ConfigPath is where the guest init finds its configuration.
const ConfigPath = "/lab/config.json"

// ControlTTY is the guest side of the control channel.
const ControlTTY = "/dev/ttyS1"

// EnvInGuest is set to "1" in the environment of every guest command.
const EnvInGuest = "UIODRV_LAB"

// Module is a kernel module to load, in dependency order.
type Module struct {
	Name   string `json:"name"`
	Path   string `json:"path"`   // path inside the guest
	Params string `json:"params"` // "key=value key2=value2", passed to finit_module
}

// Binding asks the guest init to bind a PCI device to a driver.
type Binding struct {
	BDF    string `json:"bdf"`
	Driver string `json:"driver"`
}

// Command is a program the guest init runs.
type Command struct {
	Args       []string `json:"args"`
	Env        []string `json:"env,omitempty"`
	Background bool     `json:"background,omitempty"`
	TimeoutMs  int64    `json:"timeout_ms,omitempty"`
	User       *User    `json:"user,omitempty"`
}

// User runs a command as another user (qemu.User).
type User struct {
	UID     uint32               `json:"uid"`
	GID     uint32               `json:"gid"`
	Own     []string             `json:"own,omitempty"`     // glob patterns chowned to UID:GID first
	Rlimits map[string][2]uint64 `json:"rlimits,omitempty"` // name -> soft, hard
}

// GuestConfig is the guest init's whole configuration.
type GuestConfig struct {
	Modules   []Module  `json:"modules"`
	Hugepages int       `json:"hugepages"`
	Bind      []Binding `json:"bind"`
	Commands  []Command `json:"commands"`
	// Fetch are guest files sent to the host after the last command ended.
	Fetch []string `json:"fetch,omitempty"`
}

// FileChunk is the largest piece of a fetched file in one message (before
// base64), well below the host's 4 MiB line limit.
const FileChunk = 48 << 10

// Message kinds, guest to host.
const (
	KindLog     = "log"     // M: a line from the init itself
	KindReady   = "ready"   // M: kernel version; Uptime: seconds since boot
	KindStart   = "start"   // C: command index
	KindOut     = "out"     // C, S (1 stdout, 2 stderr), D: one line without its newline
	KindExit    = "exit"    // C, Code, Err
	KindFatal   = "fatal"   // M: why the init gave up; the guest powers off next
	KindDone    = "done"    // all commands ended; the guest powers off next
	KindFile    = "file"    // M: guest path, D: the next piece of it, base64
	KindFileEnd = "fileend" // M: guest path, Err: why it could not be read (all of it was sent when empty)
)

// Message kinds, host to guest.
const (
	KindSignal = "signal" // C: command index, Sig: signal number
)

// Msg is one JSON line on the control channel.
type Msg struct {
	K      string  `json:"k"`
	M      string  `json:"m,omitempty"`
	C      int     `json:"c,omitempty"`
	S      int     `json:"s,omitempty"`
	D      string  `json:"d,omitempty"`
	Code   int     `json:"code,omitempty"`
	Err    string  `json:"err,omitempty"`
	Sig    int     `json:"sig,omitempty"`
	Uptime float64 `json:"uptime,omitempty"`
}
