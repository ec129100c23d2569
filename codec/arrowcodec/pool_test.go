package arrowcodec_test

import (
	"fmt"
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go/codec/arrowcodec"
)

// TestPoolAllocate checks the allocator's contract at and around every
// class boundary: the size asked for, zeroed (also after a buffer came
// back dirty), 64-byte aligned, and grown in place or with its bytes.
func TestPoolAllocate(t *testing.T) {
	p := arrowcodec.NewPool()
	for _, size := range []int{0, 1, 63, 64, 2047, 2048, 2049, 4095, 4096, 4097, 1 << 16, 1<<16 + 1, 300_000, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			for round := range 3 { // the later rounds may get the earlier buffers back
				b := p.Allocate(size)
				if len(b) != size {
					t.Fatalf("round %d: len %d, want %d", round, len(b), size)
				}
				if size > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64 != 0 {
					t.Fatalf("round %d: not 64-byte aligned: %p", round, unsafe.SliceData(b))
				}
				for i, x := range b[:cap(b)] {
					if x != 0 {
						t.Fatalf("round %d: byte %d of %d is %#x, want 0", round, i, cap(b), x)
					}
				}
				for i := range b {
					b[i] = 0xAA
				}
				grown := p.Reallocate(size*2+100, b)
				if len(grown) != size*2+100 {
					t.Fatalf("round %d: Reallocate: len %d", round, len(grown))
				}
				for i, x := range grown {
					if want := byte(0xAA); i >= size {
						want = 0
						if x != want {
							t.Fatalf("round %d: grown byte %d is %#x, want 0", round, i, x)
						}
					} else if x != want {
						t.Fatalf("round %d: grown byte %d is %#x, want the old 0xAA", round, i, x)
					}
				}
				for i := range grown[:cap(grown)] {
					grown[:cap(grown)][i] = 0x55 // dirty, for the next round
				}
				p.Free(grown)
			}
		})
	}
}

// TestPoolRecycles checks that a released record's memory serves the next
// decode. (sync.Pool may drop an entry, so it is enough that one decode of
// twenty gets a buffer back.)
func TestPoolRecycles(t *testing.T) {
	rec := makeRecord(memory.DefaultAllocator, 0, 5000)
	defer rec.Release()
	data := encode(t, rec)
	c := arrowcodec.New(arrowcodec.Options{Allocator: arrowcodec.NewPool()})
	seen := map[uintptr]bool{}
	reused := false
	for range 20 {
		var got arrow.RecordBatch
		if err := c.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		col := got.Column(0).(*array.Float64)
		p := uintptr(unsafe.Pointer(unsafe.SliceData(col.Data().Buffers()[1].Bytes())))
		reused = reused || seen[p]
		seen[p] = true
		got.Release()
	}
	if !reused {
		t.Fatalf("20 decodes used %d different buffers: the pool recycled none", len(seen))
	}
}

// TestPoolDecodes decodes with a pooled allocator from several goroutines
// at once, each record read in full, compared with the default decode and
// released: recycled memory never shows another decode's values.
func TestPoolDecodes(t *testing.T) {
	c := arrowcodec.New(arrowcodec.Options{Allocator: arrowcodec.NewPool()})
	const tables = 4
	var payloads [tables][]byte
	var want [tables][]string
	for i := range tables {
		rec := makeRecord(memory.DefaultAllocator, i*1000, 700+i*300)
		payloads[i] = encode(t, rec)
		want[i] = values(rec)
		rec.Release()
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 25 {
				i := (g + n) % tables
				var got arrow.RecordBatch
				if err := c.Unmarshal(payloads[i], &got); err != nil {
					t.Error(err)
					return
				}
				if v := values(got); fmt.Sprint(v) != fmt.Sprint(want[i]) {
					t.Errorf("goroutine %d, decode %d of table %d: values differ from the default decode's", g, n, i)
				}
				got.Release()
			}
		})
	}
	wg.Wait()
}

// values is every value of rec as a string, by column.
func values(rec arrow.RecordBatch) []string {
	var out []string
	for _, col := range rec.Columns() {
		for i := range col.Len() {
			out = append(out, col.ValueStr(i))
		}
	}
	return out
}

// ExamplePool decodes with recycled memory: each record is released when
// the program is done with it, and its buffers serve the next payload.
func ExamplePool() {
	c := arrowcodec.New(arrowcodec.Options{Allocator: arrowcodec.NewPool()})

	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.AppendValues([]int64{1, 2, 3}, nil)
	col := b.NewInt64Array()
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 3)
	payload, err := c.Marshal(rec)
	if err != nil {
		panic(err)
	}
	rec.Release()
	col.Release()
	b.Release()

	for range 2 {
		var got arrow.RecordBatch
		if err := c.Unmarshal(payload, &got); err != nil {
			panic(err)
		}
		sum := int64(0)
		for _, v := range got.Column(0).(*array.Int64).Int64Values() {
			sum += v
		}
		fmt.Println(got.NumRows(), "rows, sum", sum)
		got.Release() // its memory goes back to the pool
	}
	// Output:
	// 3 rows, sum 6
	// 3 rows, sum 6
}
