package driver

// The core's own tests cannot import package handler (it imports driver):
// these are the two handlers they need.

// reflectAll swaps the MACs of every frame and transmits it back, as
// handler.Reflect does.
type reflectAll struct{}

func (reflectAll) Handle(pkts []Packet) {
	for i := range pkts {
		d := pkts[i].Data
		if len(d) < 14 {
			continue
		}
		var m [6]byte
		copy(m[:], d[0:6])
		copy(d[0:6], d[6:12])
		copy(d[6:12], m[:])
		pkts[i].Verdict = Transmit
	}
}

// forwardAll marks every frame Forward.
type forwardAll struct{}

func (forwardAll) Handle(pkts []Packet) {
	for i := range pkts {
		pkts[i].Verdict = Forward
	}
}
