package codec

import (
	"bytes"
	"testing"
)

func TestRawChunks(t *testing.T) {
	if RawChunks.Name() != "raw-chunks" {
		t.Errorf("name %q", RawChunks.Name())
	}
	parts := [][]byte{[]byte("ab"), []byte("cd"), nil, []byte("e")}
	cm, ok := RawChunks.(ChunkMarshaler)
	if !ok {
		t.Fatal("RawChunks is not a ChunkMarshaler")
	}
	got, err := cm.MarshalChunks(parts)
	if err != nil || len(got) != len(parts) || &got[0][0] != &parts[0][0] {
		t.Fatalf("MarshalChunks copied or changed the parts: %q, %v", got, err)
	}
	b, err := RawChunks.Marshal(parts)
	if err != nil || string(b) != "abcde" {
		t.Fatalf("Marshal = %q, %v", b, err)
	}
	payload := []byte("payload")
	var chunks [][]byte
	if err := RawChunks.Unmarshal(payload, &chunks); err != nil || len(chunks) != 1 || &chunks[0][0] != &payload[0] {
		t.Fatalf("Unmarshal into *[][]byte = %q, %v (want the payload, not a copy)", chunks, err)
	}
	var v any
	if err := RawChunks.Unmarshal(payload, &v); err != nil || !bytes.Equal(v.([][]byte)[0], payload) {
		t.Fatalf("Unmarshal into *any = %#v, %v", v, err)
	}
	var one []byte
	if err := RawChunks.Unmarshal(payload, &one); err != nil || string(one) != "payload" {
		t.Fatalf("Unmarshal into *[]byte = %q, %v", one, err)
	}
	if err := RawChunks.Unmarshal(payload, new(int)); err == nil {
		t.Fatal("decoding into *int succeeded")
	}
}
