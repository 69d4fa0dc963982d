// Command uiodrv runs a userspace NIC driver on VFIO or UIO, and
// lists, binds and tests NICs. See usage.go for the commands and exit codes.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/uiodrv/uiodrv/bus"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(cliMain(os.Args[1:], os.Stdout, os.Stderr))
}

// cliMain runs one command line and returns the process exit status.
func cliMain(args []string, stdout, stderr io.Writer) int {
	cmd, rest := "run", args
	if len(args) > 0 {
		if _, ok := commands[args[0]]; ok {
			cmd, rest = args[0], args[1:]
		} else if a := args[0]; a != "" && !strings.HasPrefix(a, "-") && a != "help" && a != "version" {
			// run takes no arguments: a first word that is no command
			// is a mistyped one.
			fmt.Fprintf(stderr, "uiodrv: unknown command %q%s; the commands are %s\n  (see uiodrv --help)\n",
				a, didYouMean(a), commandNames())
			return exitUsage
		}
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		if len(args) > 1 && args[1] != "help" {
			if _, ok := commands[args[1]]; ok {
				return commands[args[1]](&env{stdout: stdout, stderr: stderr}, []string{"--help"})
			}
			if args[1] != "-h" && args[1] != "--help" {
				fmt.Fprintf(stderr, "uiodrv help: no command %q%s; the commands are %s\n  (see uiodrv --help)\n", args[1], didYouMean(args[1]), commandNames())
				return exitUsage
			}
		}
		fmt.Fprint(stdout, topUsage)
		return exitOK
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintf(stdout, "uiodrv %s\n", version)
		return exitOK
	}
	return commands[cmd](&env{stdout: stdout, stderr: stderr}, rest)
}

// commandNames lists the commands for messages.
func commandNames() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// didYouMean suggests the command nearest to s (" (did you mean list?)"),
// or "" when none is within two edits.
func didYouMean(s string) string {
	if _, err := bus.ParseAddr(s); err == nil {
		return fmt.Sprintf(" (to run on that NIC: uiodrv --dev %s)", s)
	}
	best, bestD := "", 3
	for n := range commands {
		if d := editDistance(strings.ToLower(s), n); d < bestD || d == bestD && n < best {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Damerau-Levenshtein distance (adjacent swaps count
// one: "lsit" is one edit from "list"), for short words.
func editDistance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
}

var commands map[string]func(*env, []string) int

func init() {
	commands = map[string]func(*env, []string) int{
		"run":    cmdRun,
		"list":   cmdList,
		"bind":   cmdBind,
		"unbind": cmdUnbind,
		"pktgen": cmdPktgen,
		"lab":    cmdLab,
		"rt":     cmdRT,
	}
}
