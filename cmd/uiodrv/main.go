// Command uiodrv runs a userspace NIC driver on VFIO or UIO, and
// lists, binds and tests NICs. See usage.go for the commands and exit codes.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
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
		}
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		if len(args) > 1 {
			if _, ok := commands[args[1]]; ok {
				return commands[args[1]](&env{stdout: stdout, stderr: stderr}, []string{"--help"})
			}
			if args[1] != "-h" && args[1] != "--help" {
				fmt.Fprintf(stderr, "uiodrv help: no command %q: the commands are %s\n  (see uiodrv --help)\n", args[1], commandNames())
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
