package guestinit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// TestSendFile: a file larger than one piece goes out as base64 pieces and
// an end message; a missing file as an end message with the error.
func TestSendFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.pcap")
	data := bytes.Repeat([]byte("0123456789abcdef"), proto.FileChunk/16*2+5)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c := &ctl{w: &buf, enc: json.NewEncoder(&buf)}
	sendFile(c, path)
	sendFile(c, path+".missing")
	var got []byte
	var ends []proto.Msg
	pieces := 0
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m proto.Msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		switch m.K {
		case proto.KindFile:
			b, err := base64.StdEncoding.DecodeString(m.D)
			if err != nil || len(b) > proto.FileChunk {
				t.Fatalf("piece of %d bytes: %v", len(b), err)
			}
			got = append(got, b...)
			pieces++
		case proto.KindFileEnd:
			ends = append(ends, m)
		}
	}
	if !bytes.Equal(got, data) || pieces != 3 {
		t.Fatalf("%d bytes in %d pieces, want %d in 3", len(got), pieces, len(data))
	}
	if len(ends) != 2 || ends[0].Err != "" || ends[1].Err == "" {
		t.Fatalf("end messages: %+v", ends)
	}
}
