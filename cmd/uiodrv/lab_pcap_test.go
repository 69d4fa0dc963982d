package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// labRun runs 'uiodrv lab' with f (the lab lock held) and returns its output.
func labRun(t *testing.T, f *labFlags) (string, error) {
	t.Helper()
	labtest.Require(t)
	f.binary = staticBinary(t)
	f.log.level, f.log.format = "info", "console"
	if err := f.validate(); err != nil {
		t.Fatalf("flags: %v", err)
	}
	unlock := labtest.Lock(t)
	defer unlock()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	err := runLab(ctx, &env{stdout: &out, stderr: &out}, f)
	t.Log(out.String())
	return out.String(), err
}

// TestLabPcap: 'uiodrv lab --pcap FILE' leaves on the host a pcap file that
// pcapgo reads back, holding exactly the frames the host sent, once each,
// byte for byte.
func TestLabPcap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rx.pcap")
	f := &labFlags{nic: "e1000", mode: "napi", backend: "vfio", rate: 500, duration: 4 * time.Second,
		size: 200, kernel: "stable", pcap: path}
	out, err := labRun(t, f)
	if err != nil {
		t.Fatalf("uiodrv lab --pcap: %v", err)
	}
	tr := f.traffic
	sent := tr.sent.Load()
	if sent != 2000 || tr.intact.Load() != sent {
		t.Fatalf("sent %d, reflected intact %d; want 2000 and 2000", sent, tr.intact.Load())
	}
	if !strings.Contains(out, "capture: "+path) {
		t.Errorf("output does not report the capture")
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, err := pcapgo.NewReader(file)
	if err != nil {
		t.Fatalf("pcapgo cannot read %s: %v", path, err)
	}
	got := map[uint32]bool{}
	want := make([]byte, f.size)
	n := 0
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", n+1, err)
		}
		n++
		if ci.CaptureLength != f.size || len(data) != f.size {
			t.Fatalf("record %d: %d bytes captured of %d, want %d", n, ci.CaptureLength, ci.Length, f.size)
		}
		fr, _, _ := testframe.Check(data)
		seq := uint32(fr.Seq)
		if !bytes.Equal(data, tr.frame(want, seq, fr.Stamp)) || uint64(seq) >= sent {
			t.Fatalf("record %d is not a frame the host sent:\n% x", n, data)
		}
		if got[seq] {
			t.Fatalf("frame %d recorded twice", seq)
		}
		got[seq] = true
	}
	if uint64(n) != sent {
		t.Fatalf("%d records in the capture, %d frames sent", n, sent)
	}
}

// TestLabKernelBackportsReflect: the whole 'uiodrv lab' (VFIO, e1000,
// uiodrv's reflect) on Debian's backports kernel.
func TestLabKernelBackportsReflect(t *testing.T) {
	f := &labFlags{nic: "e1000", mode: "napi", backend: "vfio", rate: 500, duration: 3 * time.Second,
		size: 128, kernel: "backports"}
	out, err := labRun(t, f)
	if err != nil {
		t.Fatalf("uiodrv lab --kernel backports: %v", err)
	}
	if sent := f.traffic.sent.Load(); sent != 1500 || f.traffic.intact.Load() != sent {
		t.Fatalf("sent %d, reflected intact %d; want 1500 and 1500", sent, f.traffic.intact.Load())
	}
	if !strings.Contains(out, "guest kernel 6.12") {
		t.Errorf("output does not name a 6.12 guest kernel")
	}
}

func TestPcapKernelFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"lab", "--kernel", "7.0"}, "--kernel"},
		{[]string{"lab", "--pcap", dir}, "is a directory"},
		{[]string{"lab", "--pcap", filepath.Join(dir, "no", "such", "x.pcap")}, "does not exist"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.msg)
		}
	}
}

// TestCheckPcap writes a capture with pcapgo and checks the matching: sent
// frames count, an altered one and a repeated one do not.
func TestCheckPcap(t *testing.T) {
	tr := newTraffic(nil, 100)
	tr.sent.Store(3)
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65536, 1); err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) {
		if err := w.WritePacket(gopacketCI(len(b)), b); err != nil {
			t.Fatal(err)
		}
	}
	for seq := uint32(0); seq < 3; seq++ {
		write(tr.frame(make([]byte, 100), seq, int64(seq)*1000))
	}
	write(tr.frame(make([]byte, 100), 1, 1000)) // again
	bad := tr.frame(make([]byte, 100), 2, 2000)
	bad[60] ^= 1
	write(bad)
	write(tr.frame(make([]byte, 100), 7, 0)) // never sent
	c, err := checkPcap(&buf, tr)
	if err != nil {
		t.Fatal(err)
	}
	if c.frames != 6 || c.matched != 3 || c.dup != 1 {
		t.Fatalf("%+v, want 6 frames, 3 matched, 1 duplicate", c)
	}
	if _, err := checkPcap(strings.NewReader("not a pcap"), tr); err == nil {
		t.Fatal("garbage read as a pcap")
	}
}

func gopacketCI(n int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: n, Length: n}
}
