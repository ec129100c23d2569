package arrowcodec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/procwire/procwire-go/codec/arrowcodec"
)

// FuzzUnmarshal decodes arbitrary bytes into every target, with the Go
// heap's memory and with a Pool's: Unmarshal must
// return a record it validated or an error, never panic, and the values of
// what it returns must all be readable. The seed corpus in
// testdata/fuzz/FuzzUnmarshal holds a small valid stream, truncations of it
// and garbage; the streams written by Node in testdata are added here.
//
//	go test -run '^$' -fuzz FuzzUnmarshal ./codec/arrowcodec/
func FuzzUnmarshal(f *testing.F) {
	for _, name := range []string{"node-table.arrows", "node-batches.arrows", "node-empty.arrows"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	c := arrowcodec.New(arrowcodec.Options{MaxDecodedSize: 64 << 20})
	// The other targets decode with recycled memory (Pool), which must
	// hold hostile input to the same limits.
	pc := arrowcodec.New(arrowcodec.Options{MaxDecodedSize: 64 << 20, Allocator: arrowcodec.NewPool()})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec arrow.RecordBatch
		if err := c.Unmarshal(data, &rec); err == nil {
			readAll(rec)
			// A decoded record encodes, and decodes to as many rows.
			if enc, err := c.Marshal(rec); err == nil {
				var again arrow.RecordBatch
				if err := c.Unmarshal(enc, &again); err != nil {
					t.Fatalf("re-decoding a decoded record: %v", err)
				}
				if again.NumRows() != rec.NumRows() {
					t.Fatalf("re-decoded %d rows, want %d", again.NumRows(), rec.NumRows())
				}
				again.Release()
			}
			rec.Release()
		} else {
			checkError(t, err)
		}
		var recs []arrow.RecordBatch
		if err := pc.Unmarshal(data, &recs); err == nil {
			for _, r := range recs {
				readAll(r)
				r.Release()
			}
		} else {
			checkError(t, err)
		}
		var tbl arrow.Table
		if err := pc.Unmarshal(data, &tbl); err == nil {
			tbl.Release()
		} else {
			checkError(t, err)
		}
	})
}

// checkError fails t unless err is one of Unmarshal's documented failures.
func checkError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, arrowcodec.ErrMalformed) && !errors.Is(err, arrowcodec.ErrTooLarge) &&
		!strings.HasPrefix(err.Error(), "arrowcodec: concatenate column") {
		t.Fatalf("undocumented error: %v", err)
	}
}

// readAll reads every value of rec (at most 4096 rows) as a handler might.
func readAll(rec arrow.RecordBatch) {
	rows := min(int(rec.NumRows()), 4096)
	for _, col := range rec.Columns() {
		for i := 0; i < rows && i < col.Len(); i++ {
			_ = col.ValueStr(i)
			_ = col.GetOneForMarshal(i)
		}
	}
}
