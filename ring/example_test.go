package ring_test

import (
	"fmt"
	"runtime"

	"github.com/uiodrv/uiodrv/ring"
)

// The top half copies completed RX descriptors into an SPSC ring; the bottom
// half drains them in bursts.
func ExampleSPSC() {
	type rxDesc struct {
		Buf    uint32 // packet buffer index in the pool
		Len    uint16
		Status uint8
	}
	r, err := ring.NewSPSC[rxDesc](8)
	if err != nil {
		fmt.Println(err)
		return
	}

	const packets = 100
	go func() { // top half: one producer
		for i := range packets {
			for !r.Enqueue(rxDesc{Buf: uint32(i), Len: 60, Status: 1}) {
				runtime.Gosched() // ring full: a real top half would count a drop
			}
		}
	}()

	// Bottom half: one consumer, 4 descriptors at a time.
	var batch [4]rxDesc
	got, bytes, inOrder := 0, 0, true
	for got < packets {
		n := r.DequeueBurst(batch[:])
		for _, d := range batch[:n] {
			inOrder = inOrder && d.Buf == uint32(got)
			bytes += int(d.Len)
			got++
		}
		if n == 0 {
			runtime.Gosched()
		}
	}
	fmt.Println(got, "packets,", bytes, "bytes, in order:", inOrder)
	// Output: 100 packets, 6000 bytes, in order: true
}

// Burst takes as many as fit, bulk all or nothing.
func ExampleSPSC_EnqueueBulk() {
	r, _ := ring.NewSPSC[int](4)
	fmt.Println(r.EnqueueBurst([]int{1, 2, 3})) // 3 fit
	fmt.Println(r.EnqueueBulk([]int{4, 5}))     // only 1 free: nothing
	fmt.Println(r.EnqueueBurst([]int{4, 5}))    // 1 fits
	out := make([]int, 8)
	fmt.Println(r.DequeueBulk(out[:5]), r.Len()) // only 4 present: nothing
	n := r.DequeueBurst(out)
	fmt.Println(out[:n])
	// Output:
	// 3
	// 0
	// 1
	// 0 4
	// [1 2 3 4]
}
