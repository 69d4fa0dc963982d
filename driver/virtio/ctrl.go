package virtio

import (
	"encoding/binary"
	"fmt"
	"time"
)

// ctrlTimeout bounds the wait for the device to answer a control command.
const ctrlTimeout = time.Second

// setupCtrl sets up the control virtqueue, which follows the last queue
// pair the device offers (virtio 1.2 5.1.2: index 2*max_virtqueue_pairs).
// It signals no vector: the driver polls its one command to completion.
// The queue's header area holds the command: class, command and data
// (read by the device), then the ack byte (written by it).
func (n *NIC) setupCtrl() error {
	idx := uint16(2 * n.maxPairs)
	if n.ctrl == nil {
		if max := n.queueSize(idx); max < 4 {
			return fmt.Errorf("control queue %d holds %d descriptors, need 4", idx, max)
		}
		q, err := newVQ(n.alloc, idx, 4, false)
		if err != nil {
			return err
		}
		n.ctrl = q
	}
	q := n.ctrl
	_, _, hdrOff, _ := vqLayout(4)
	q.putDesc(0, q.mem.AddrOf(hdrOff), 2, DescFNext, 1)
	q.putDesc(1, q.mem.AddrOf(hdrOff+2), 2, DescFNext, 2)
	q.putDesc(2, q.mem.AddrOf(hdrOff+16), 1, DescFWrite, 0)
	return n.setupQueue(q, MSIXNoVector)
}

// setPairs tells the device to use pairs queue pairs
// (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 5.1.6.5.5): until then it receives
// into the first pair only.
func (n *NIC) setPairs(pairs int) error {
	q := n.ctrl
	q.hdr[0], q.hdr[1] = CtrlClassMQ, CtrlMQVQPairsSet
	binary.LittleEndian.PutUint16(q.hdr[2:], uint16(pairs))
	q.hdr[16] = 0xFF
	binary.LittleEndian.PutUint16(q.avail[4+2*(q.availIdx%q.size):], 0)
	q.availIdx++
	setAvailIdx(q.avail, q.availIdx)
	q.kick()
	deadline := time.Now().Add(ctrlTimeout)
	for q.usedIdx() != q.availIdx {
		if time.Now().After(deadline) {
			return fmt.Errorf("control queue: no answer to VQ_PAIRS_SET %d within %v", pairs, ctrlTimeout)
		}
		time.Sleep(10 * time.Microsecond)
	}
	q.lastUsed = q.availIdx
	if ack := q.hdr[16]; ack != CtrlOK {
		return fmt.Errorf("control queue: VQ_PAIRS_SET %d answered %d, not VIRTIO_NET_OK", pairs, ack)
	}
	return nil
}
