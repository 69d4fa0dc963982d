package main

import (
	"fmt"
	"sync/atomic"

	"github.com/spf13/pflag"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/handler"
)

// faultFlags are fault-injection flags for soak tests (make soak). They are
// off by default, named --fault-*, and listed in --help, so a run never
// injects a fault unless asked to on its command line.
type faultFlags struct {
	panicEvery uint64
}

func (f *faultFlags) add(fs *pflag.FlagSet) {
	fs.Uint64Var(&f.panicEvery, "fault-panic-every", 0,
		"fault injection for soak tests: the handler panics on the batch that brings the frames it has seen to a multiple of N (the port must recover, count the panic and drop the batch as handler_panic); 0 off")
}

// maxPanicEvery bounds --fault-panic-every below the point where the product
// with a batch could overflow; any real value is far smaller.
const maxPanicEvery = 1 << 48

func (f *faultFlags) validate() error {
	if f.panicEvery > maxPanicEvery {
		return usagef("--fault-panic-every %d: want 0 (off) to %d frames", f.panicEvery, uint64(maxPanicEvery))
	}
	return nil
}

// wrap puts the injected fault in front of the handler chain, so that a
// panicking batch reaches no other handler (nothing counted, captured or
// reflected from it): its frames are exactly the port's handler_panic drops.
func (f *faultFlags) wrap(chain handler.Chain) handler.Chain {
	if f.panicEvery == 0 {
		return chain
	}
	return append(handler.Chain{&panicInjector{every: f.panicEvery}}, chain...)
}

// panicInjector is a handler that panics on purpose (--fault-panic-every):
// on the batch during which the number of frames it has seen reaches a
// multiple of every. It allocates nothing until it panics.
type panicInjector struct {
	every uint64
	seen  atomic.Uint64 // one bottom half runs at a time, but Stats readers may look
	fired atomic.Uint64
}

func (p *panicInjector) Handle(pkts []driver.Packet) {
	before := p.seen.Load()
	after := before + uint64(len(pkts))
	p.seen.Store(after)
	if after/p.every > before/p.every {
		n := p.fired.Add(1)
		panic(fmt.Sprintf("injected fault %d (--fault-panic-every %d): frame %d", n, p.every, after/p.every*p.every))
	}
}
