// Command labinit is PID 1 of the uiodrv lab guest. The host builds it as a
// static binary and puts it at /init in the initramfs; see package guestinit.
package main

import "github.com/uiodrv/uiodrv/qemu/guestinit"

func main() { guestinit.Main() }
